// parley-filter-bench: benchmarks ModerationFilter on the data written by
// `filter_bench.py --dump DIR` (dict.txt, corpus.txt, expected.txt) and checks match counts.
//
// Usage: parley-filter-bench --data DIR [--repeat 3] [--msg-mb 5] [--ll-expected N] [--json FILE]
//
// Mirrors filter_bench.py: bulk mode = one call per ~1 MB chunk; per-message mode = one call per chat
// message over the first 5 MB of messages (bytes counted as UTF-8 length + 1, like the script); best of
// `--repeat` runs; MB = 10^6 bytes of UTF-8 input; single thread.
import Foundation
import ModerationFilter

struct Arguments {
    var data = "/tmp/filterdata"
    var repeatCount = 3
    var messageMB = 5.0
    var leftmostLongestExpected: Int?
    var json: String?
    var profile: String?
    /// Interleaved A/B mode: after setup print "ready", then for every "pass" line on stdin time one
    /// per-message pass of each Swift variant, and for every "bulk" line one bulk pass (first 5 chunks) of the
    /// full pipeline and of exact matching; print one JSON line (seconds) per request.
    var serve = false

    init() {
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--data": data = it.next() ?? data
            case "--repeat": repeatCount = Int(it.next() ?? "") ?? repeatCount
            case "--msg-mb": messageMB = Double(it.next() ?? "") ?? messageMB
            case "--ll-expected": leftmostLongestExpected = Int(it.next() ?? "")
            case "--json": json = it.next()
            case "--profile": profile = it.next()
            case "--serve": serve = true
            default:
                FileHandle.standardError.write("unknown argument \(arg)\n".data(using: .utf8)!)
                exit(2)
            }
        }
    }
}

let args = Arguments()
let clock = ContinuousClock()

func seconds(_ d: Duration) -> Double {
    let (s, atto) = d.components
    return Double(s) + Double(atto) * 1e-18
}

/// Best wall-clock time of `repeatCount` runs, and the last result.
func timed<T>(_ repeatCount: Int, _ body: () -> T) -> (Double, T) {
    var best = Double.infinity
    var result: T?
    for _ in 0..<max(repeatCount, 1) {
        let start = clock.now
        let r = body()
        let dt = seconds(clock.now - start)
        if dt < best { best = dt }
        result = r
    }
    return (best, result!)
}

func readText(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write("cannot read \(path)\n".data(using: .utf8)!)
        exit(1)
    }
    return String(decoding: data, as: UTF8.self)
}

/// What one timed pass calls per text.
enum PassKind { case apply, scan, count, overlapping }

/// One pass over `texts`: calls `filter` once per text and sums the match counts.
///
/// A plain nonisolated function rather than `texts.reduce(0) { ... }` in top-level code: closures written at
/// top level are main-actor isolated, and Swift 6 checks the current executor on every call of such a closure
/// (`swift_task_isCurrentExecutor`, 1–2% of a per-message pass), which is harness cost, not filter cost.
nonisolated func pass<S: Sequence<String>>(_ filter: CompiledFilter, _ texts: S, _ kind: PassKind) -> Int {
    var total = 0
    switch kind {
    case .apply: for text in texts { total &+= filter.apply(text).matches.count }
    case .scan: for text in texts { total &+= filter.scan(text).count }
    case .count: for text in texts { total &+= filter.matchCount(in: text) }
    case .overlapping: for text in texts { total &+= filter.countOverlappingMatches(in: text) }
    }
    return total
}

// ---------------------------------------------------------------- data --
let words = readText(args.data + "/dict.txt").split(separator: "\n").map(String.init)
let corpusText = readText(args.data + "/corpus.txt")
var expected = [String: Int]()
for line in readText(args.data + "/expected.txt").split(separator: "\n") {
    let parts = line.split(separator: " ")
    if parts.count == 2, let value = Int(parts[1]) { expected[String(parts[0])] = value }
}
let messages = corpusText.split(separator: "\n").map(String.init)
var chunks = [String]()
do {
    var current = [String]()
    var size = 0
    for m in messages {
        current.append(m)
        size += m.utf8.count + 1
        if size >= 1_000_000 {
            chunks.append(current.joined(separator: "\n"))
            current = []
            size = 0
        }
    }
    if !current.isEmpty { chunks.append(current.joined(separator: "\n")) }
}
let corpusBytes = chunks.reduce(0) { $0 + $1.utf8.count }
var perMessage = [String]()
var perMessageBytes = 0
for m in messages {
    perMessage.append(m)
    perMessageBytes += m.utf8.count + 1
    if Double(perMessageBytes) >= args.messageMB * 1e6 { break }
}
print("# parley-filter-bench  dictionary \(words.count) words, corpus \(messages.count) messages, "
    + "\(String(format: "%.1f", Double(corpusBytes) / 1e6)) MB in \(chunks.count) chunks; per-message slice "
    + "\(perMessage.count) messages (\(String(format: "%.1f", Double(perMessageBytes) / 1e6)) MB)")

// ------------------------------------------------------------- filters --
let plainDictionary = FilterDictionary(entries: words.map { FilterEntry(word: $0) })
// The full pipeline also carries an allow-list: 200 phrases that extend a CJK dictionary word by one
// character, so that the allow-list path is exercised without hiding the benchmark's matches.
var pipelineDictionary = plainDictionary
for word in words.prefix(200) { pipelineDictionary.allow(word + "们") }

let normANoise = Set("*#@$%^&~·|_-.'\"`".unicodeScalars)
let normAOptions = FilterOptions(
    folds: [.caseFold, .fullWidth, .homoglyphs, .noise], wholeWordLatin: false, maxNoiseRun: Int.max,
    noiseCharacters: normANoise)

// Synthetic 60k-word dictionary, built like filter_bench.py's (60% CJK 2-4 chars from a 3,500-char pool,
// 40% ASCII pseudo-words from syllables), with a fixed seed.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
var rng = SplitMix64(state: 60_000)
let step = (0x9FA5 - 0x4E00) / 3500
let pool = (0..<3500).map { Character(Unicode.Scalar(UInt32(0x4E00 + $0 * step))!) }
let syllables = "bcdfghjklmnprstvwz".flatMap { c in "aeiou".map { v in String(c) + String(v) } }
var big = Set<String>()
while big.count < 36_000 {
    let length = [2, 2, 2, 3, 3, 4][rng.below(6)]
    big.insert(String((0..<length).map { _ in pool[rng.below(pool.count)] }))
}
while big.count < 60_000 {
    let n = [2, 3, 3, 4][rng.below(4)]
    big.insert((0..<n).map { _ in syllables[rng.below(syllables.count)] }.joined() + ["", "k", "x", "t", "s"][rng.below(5)])
}
let bigDictionary = FilterDictionary(entries: big.map { FilterEntry(word: $0) })
// The first build in the process also computes the per-options fold tables (cached afterwards).
let (bigCold, bigColdFilter) = timed(1) { try! CompiledFilter(dictionary: bigDictionary, options: .standard) }
let (coldBuild, pipeline) = timed(1) { try! CompiledFilter(dictionary: pipelineDictionary, options: .standard) }
let (warmBuild, _) = timed(args.repeatCount) { try! CompiledFilter(dictionary: pipelineDictionary, options: .standard) }
let exact = try! CompiledFilter(dictionary: plainDictionary, options: .exact)
let normA = try! CompiledFilter(dictionary: plainDictionary, options: normAOptions)

let (bigBuild, bigFilter) = timed(args.repeatCount) { try! CompiledFilter(dictionary: bigDictionary, options: .standard) }
_ = bigColdFilter

if args.profile == "overhead" {
    // Diagnostic: fixed cost of one call on tiny inputs.
    let tiny = (0..<40_000).map { "qqqqqqqqqqqqqqqqqqqqqqqqq\($0 % 10)" }
    for _ in 0..<3 {
        let (count, _) = timed(9) { pass(pipeline, tiny, .count) }
        let (apply, _) = timed(9) { pass(pipeline, tiny, .apply) }
        print("per call on 26-byte input: matchCount \(String(format: "%.0f", count / 40_000 * 1e9)) ns, apply \(String(format: "%.0f", apply / 40_000 * 1e9)) ns")
    }
    exit(0)
}

if args.profile == "rewrite" {
    // Diagnostic: cost of apply over scan on messages that have a replace match.
    let matched = perMessage.filter { !pipeline.scan($0).isEmpty }
    for _ in 0..<3 {
        let (scanTime, _) = timed(9) { pass(pipeline, matched, .scan) }
        let (applyTime, _) = timed(9) { pass(pipeline, matched, .apply) }
        let (countTime, _) = timed(9) { pass(pipeline, matched, .count) }
        print("\(matched.count) matched messages: count \(String(format: "%.0f", countTime / Double(matched.count) * 1e9)) ns, "
            + "scan \(String(format: "%.0f", scanTime / Double(matched.count) * 1e9)) ns, apply \(String(format: "%.0f", applyTime / Double(matched.count) * 1e9)) ns")
    }
    exit(0)
}

if args.profile == "build" {
    var states = 0
    for _ in 0..<30 { states += try! CompiledFilter(dictionary: bigDictionary, options: .standard).statistics.stateCount }
    print("profile build: \(states)")
    exit(0)
}

if args.profile == "split" {
    // Diagnostic: per-script cost of the full-option scan (count only) on the per-message slice.
    let cjkOnly = perMessage.map { String(String.UnicodeScalarView($0.unicodeScalars.filter { $0.value >= 0x3000 })) }
    let asciiOnly = perMessage.map { String(String.UnicodeScalarView($0.unicodeScalars.filter { $0.value < 0x80 })) }
    for (name, set) in [("cjk-only", cjkOnly), ("ascii-only", asciiOnly), ("mixed", perMessage)] {
        let bytes = set.reduce(0) { $0 + $1.utf8.count + 1 }
        let chars = set.reduce(0) { $0 + $1.unicodeScalars.count }
        let (dt, _) = timed(7) { pass(pipeline, set, .count) }
        let (dtx, _) = timed(7) { pass(exact, set, .count) }
        print("\(name): \(String(format: "%.1f", Double(bytes) / 1e6 / dt)) MB/s full, \(String(format: "%.1f", Double(bytes) / 1e6 / dtx)) MB/s exact, "
            + "\(String(format: "%.1f", dt / Double(chars) * 1e9)) ns/char full, \(String(format: "%.1f", dtx / Double(chars) * 1e9)) ns/char exact")
    }
    exit(0)
}

if let profile = args.profile {
    // Profiling aid: run one workload for ~10 s and exit.
    var total = 0
    for _ in 0..<300 {
        switch profile {
        case "full-msg": total += pass(pipeline, perMessage, .apply)
        case "raw-msg": total += pass(exact, perMessage, .count)
        case "full-bulk": total += pass(pipeline, chunks.prefix(10), .apply)
        default: total += pass(exact, chunks.prefix(10), .count)
        }
    }
    print("profile \(profile): \(total)")
    exit(0)
}

if args.serve {
    func emitLine(_ text: String) { FileHandle.standardOutput.write((text + "\n").data(using: .utf8)!) }
    emitLine("ready")
    // "bulk": one pass of the full pipeline and of exact matching over the first 5 chunks (~5 MB).
    let bulkChunks = Array(chunks.prefix(5))
    let bulkBytes = bulkChunks.reduce(0) { $0 + $1.utf8.count }
    while let line = readLine() {
        if line == "bulk" {
            let (full, _) = timed(1) { pass(pipeline, bulkChunks, .apply) }
            let (raw, _) = timed(1) { pass(exact, bulkChunks, .count) }
            emitLine("{\"full\": \(full), \"exact\": \(raw), \"bytes\": \(bulkBytes), \"chunks\": \(bulkChunks.count)}")
            continue
        }
        guard line == "pass" else { break }
        let (full, _) = timed(1) { pass(pipeline, perMessage, .apply) }
        let (count, _) = timed(1) { pass(pipeline, perMessage, .count) }
        let (scanOnly, _) = timed(1) { pass(pipeline, perMessage, .scan) }
        let (raw, _) = timed(1) { pass(exact, perMessage, .count) }
        emitLine("{\"full\": \(full), \"count\": \(count), \"scan\": \(scanOnly), \"exact\": \(raw), \"messages\": \(perMessage.count), \"bytes\": \(perMessageBytes)}")
    }
    exit(0)
}

// -------------------------------------------------------------- checks --
var checks: [(String, Int, Int?)] = []
let overlapRaw = pass(exact, chunks, .overlapping)
checks.append(("overlapping, exact", overlapRaw, expected["overlapping_raw"]))
let overlapNormA = pass(normA, chunks, .overlapping)
checks.append(("overlapping, norm A folds", overlapNormA, expected["overlapping_normA"]))
let leftmostExact = pass(exact, chunks, .count)
checks.append(("leftmost-longest, exact", leftmostExact, args.leftmostLongestExpected))
let perMessageLeftmost = pass(exact, perMessage, .count)

// ------------------------------------------------------------- timings --
let mb = Double(corpusBytes) / 1e6
let messageMB = Double(perMessageBytes) / 1e6
struct Row {
    var name: String
    var mbPerSecond: Double
    var messagesPerSecond: Double?
    var matches: Int
}
var rows = [Row]()

let (rawBulk, rawBulkMatches) = timed(args.repeatCount) { pass(exact, chunks, .count) }
rows.append(Row(name: "bulk: match only (exact, leftmost-longest)", mbPerSecond: mb / rawBulk, matches: rawBulkMatches))
let (fullBulk, fullBulkMatches) = timed(args.repeatCount) {
    pass(pipeline, chunks, .apply)
}
rows.append(Row(name: "bulk: full pipeline (all folds + allow-list + replace)", mbPerSecond: mb / fullBulk, matches: fullBulkMatches))
let (rawMsg, rawMsgMatches) = timed(args.repeatCount) { pass(exact, perMessage, .count) }
rows.append(Row(
    name: "per message: match only (exact, leftmost-longest)", mbPerSecond: messageMB / rawMsg,
    messagesPerSecond: Double(perMessage.count) / rawMsg, matches: rawMsgMatches))
let (scanMsg, scanMsgMatches) = timed(args.repeatCount) { pass(pipeline, perMessage, .count) }
rows.append(Row(
    name: "per message: normalise + match + allow-list, count only", mbPerSecond: messageMB / scanMsg,
    messagesPerSecond: Double(perMessage.count) / scanMsg, matches: scanMsgMatches))
let (fullMsg, fullMsgMatches) = timed(args.repeatCount) {
    pass(pipeline, perMessage, .apply)
}
rows.append(Row(
    name: "per message: full pipeline (all folds + allow-list + replace)", mbPerSecond: messageMB / fullMsg,
    messagesPerSecond: Double(perMessage.count) / fullMsg, matches: fullMsgMatches))

// -------------------------------------------------------------- report --
print("\n## checks (match counts)")
var failed = false
for (name, got, want) in checks {
    let status: String
    if let want { status = got == want ? "OK" : "MISMATCH (expected \(want))" } else { status = "(no reference given)" }
    if let want, got != want { failed = true }
    print("  \(name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(got)  \(status)")
}
print("  per-message slice, leftmost-longest exact: \(perMessageLeftmost)")
print("\n## throughput (single thread, best of \(args.repeatCount))")
for row in rows {
    var line = "  \(row.name.padding(toLength: 62, withPad: " ", startingAt: 0)) \(String(format: "%7.1f", row.mbPerSecond)) MB/s"
    if let mps = row.messagesPerSecond { line += String(format: "  %10.0f msgs/s", mps) }
    line += "  matches \(row.matches)"
    print(line)
}
print("\n## build and memory")
func describe(_ name: String, _ filter: CompiledFilter, _ build: Double, cold: Double? = nil) {
    let s = filter.statistics
    var line = "  \(name.padding(toLength: 30, withPad: " ", startingAt: 0)) build \(String(format: "%6.1f", build * 1000)) ms"
    if let cold { line += String(format: " (first build in process %.1f ms)", cold * 1000) }
    line += "  words \(s.wordCount)  states \(s.stateCount)  slots \(s.slotCount)  alphabet \(s.alphabetSize)"
    line += String(format: "  %.2f bytes/state", s.bytesPerState)
    line += "  (+ symbol tables \(s.symbolTableBytes / 1024) KiB)"
    print(line)
}
describe("dict.txt (+200 allow)", pipeline, warmBuild)
describe("synthetic 60k", bigFilter, bigBuild, cold: bigCold)

if let json = args.json {
    var object: [String: Any] = [
        "corpus_mb": mb, "messages": perMessage.count, "message_mb": messageMB,
        "build_ms_dict": warmBuild * 1000, "build_ms_60k_cold": bigCold * 1000, "build_ms_60k": bigBuild * 1000,
        "bytes_per_state_dict": pipeline.statistics.bytesPerState, "bytes_per_state_60k": bigFilter.statistics.bytesPerState,
        "states_dict": pipeline.statistics.stateCount, "states_60k": bigFilter.statistics.stateCount,
        "checks_ok": !failed,
    ]
    object["rows"] = rows.map { row -> [String: Any] in
        var r: [String: Any] = ["name": row.name, "MB_per_s": row.mbPerSecond, "matches": row.matches]
        if let m = row.messagesPerSecond { r["msgs_per_s"] = m }
        return r
    }
    object["checks"] = checks.map { check -> [String: Any] in
        ["name": check.0, "got": check.1, "expected": check.2.map { $0 as Any } ?? NSNull()]
    }
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    _ = FileManager.default.createFile(atPath: json, contents: data)
}
exit(failed ? 1 : 0)
