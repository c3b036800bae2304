extension CompiledFilter {
    /// Finds the dictionary words in `text`: leftmost-longest, non-overlapping, allow-list applied.
    public func scan(_ text: String) -> [FilterMatch] {
        withUTF8(text) { run($0, .collect).matches }
    }

    /// Scans `text` and applies the matches: rewrites `replace` matches and computes the verdict.
    ///
    /// Texts without matches come back unchanged without copying.
    public func apply(_ text: String) -> FilterOutcome {
        withUTF8(text) { bytes in
            let matches = run(bytes, .collect).matches
            if matches.isEmpty { return FilterOutcome(text: text, verdict: .allow, matches: []) }
            var verdict = FilterVerdict.allow
            var size = bytes.count  // an upper bound: stars never outnumber the bytes they replace
            var rewrites = false
            for match in matches {
                verdict = max(verdict, FilterVerdict(match.action))
                guard match.action == .replace else { continue }
                rewrites = true
                if match.hasReplacement, let replacement = match.entry.replacement { size += replacement.utf8.count }
            }
            guard rewrites else { return FilterOutcome(text: text, verdict: verdict, matches: matches) }
            if bytes.count > 4096 {
                return FilterOutcome(text: rewriteByAppending(text, bytes, matches, size), verdict: verdict, matches: matches)
            }
            // Short texts (chat messages): one allocation, copy the unchanged bytes and the replacements into
            // the new string's storage. (The re-validation this implies is cheaper than per-slice appends.)
            let rewritten = String(unsafeUninitializedCapacity: size) { output in
                guard let out = output.baseAddress, let source = bytes.baseAddress else { return 0 }
                var written = 0
                var last = 0
                for match in matches where match.action == .replace {
                    let range = match.utf8Range
                    (out + written).update(from: source + last, count: range.lowerBound - last)
                    written += range.lowerBound - last
                    if match.hasReplacement, var replacement = match.entry.replacement {
                        replacement.withUTF8 { r in
                            if let base = r.baseAddress { (out + written).update(from: base, count: r.count) }
                            written += r.count
                        }
                    } else {
                        let stars = visibleCharacterCount(UnsafeBufferPointer(rebasing: bytes[range]))
                        (out + written).update(repeating: UInt8(ascii: "*"), count: stars)
                        written += stars
                    }
                    last = range.upperBound
                }
                (out + written).update(from: source + last, count: bytes.count - last)
                return written + bytes.count - last
            }
            return FilterOutcome(text: rewritten, verdict: verdict, matches: matches)
        }
    }

    /// Long texts: append slices of the original (already valid UTF-8, not re-validated) and the replacements.
    func rewriteByAppending(_ text: String, _ bytes: UnsafeBufferPointer<UInt8>, _ matches: [FilterMatch], _ size: Int) -> String {
        let utf8 = text.utf8
        var rewritten = String()
        rewritten.reserveCapacity(size)
        var last = utf8.startIndex
        for match in matches where match.action == .replace {
            let range = match.utf8Range
            let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
            rewritten.append(contentsOf: Substring(utf8[last..<lower]))
            if match.hasReplacement, let replacement = match.entry.replacement {
                rewritten.append(replacement)
            } else {
                rewritten.append(String(repeating: "*", count: visibleCharacterCount(UnsafeBufferPointer(rebasing: bytes[range]))))
            }
            last = utf8.index(lower, offsetBy: range.count)
        }
        rewritten.append(contentsOf: Substring(utf8[last...]))
        return rewritten
    }

    /// The number of matches `scan` would report, without building them. For hot paths that only need a
    /// yes/no or a count.
    public func matchCount(in text: String) -> Int {
        withUTF8(text) { run($0, .countMatches).count }
    }

    /// Counts every occurrence of every word, overlapping, with standard Aho-Corasick semantics on the
    /// normalised text (no word-boundary check, no allow-list, no repeat folding). Meant for verifying the
    /// automaton against reference engines.
    public func countOverlappingMatches(in text: String) -> Int {
        withUTF8(text) { run($0, .countOverlapping).count }
    }

    /// Runs the scanner over `bytes`; returns the count for `mode` and, for `.collect`, the matches.
    func run(_ bytes: UnsafeBufferPointer<UInt8>, _ mode: Scanner.Mode) -> (count: Int, matches: [FilterMatch]) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return (0, []) }
        return withUnsafeTemporaryAllocation(of: PositionSlot.self, capacity: Scanner.ringSize) { ring in
            var scanner = Scanner(filter: self, text: base, count: bytes.count, ring: ring.baseAddress!, mode: mode)
            scanner.run()
            return (scanner.count, scanner.matches)
        }
    }

    func makeMatch(_ raw: RawMatch, _ bytes: UnsafeBufferPointer<UInt8>) -> FilterMatch {
        let info = patterns[Int(raw.pattern)]
        var fired: UInt16 = 0
        var symbolCount = 0
        var i = raw.start
        let bmpInfo = foldTable.bmpInfo
        while i < raw.end {
            let (v, length) = Self.decode(bytes, i)
            let bits: UInt16
            if v < 0x10000 {
                bits = bmpInfo[Int(v)]
            } else {
                let scalar = scalarInfo(v)
                bits = scalar.fired.rawValue | UInt16(scalar.kind) << 10
            }
            fired |= bits
            switch (bits >> 10) & 3 {
            case 0: symbolCount += 1
            case 3: symbolCount += 2
            default: break
            }
            i += length
        }
        var folds = FoldSet(rawValue: fired & 0x3FF)
        if symbolCount > patternLength(Int(raw.pattern)) { folds.insert(.repeats) }
        return FilterMatch(
            utf8Range: raw.start..<raw.end, folds: folds.intersection(options.folds), action: info.action,
            hasReplacement: info.bits & PatternInfo.hasReplacement != 0, table: entryTable, index: info.index)
    }

    /// Characters in the span, counted as scalars, not counting zero-width characters and combining marks.
    func visibleCharacterCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        var i = 0
        while i < bytes.count {
            let (v, length) = Self.decode(bytes, i)
            if !FoldTables.isZeroWidth(v), !FoldTables.isCombiningMark(v) { count += 1 }
            i += length
        }
        return count
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), 3)
        }
        return (
            (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F), 4
        )
    }
}

/// Runs `body` over the UTF-8 bytes of `text`, copying only if the string is not contiguous UTF-8.
@inline(__always)
func withUTF8<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
    var copy = text
    copy.makeContiguousUTF8()
    return copy.utf8.withContiguousStorageIfAvailable(body)!
}
