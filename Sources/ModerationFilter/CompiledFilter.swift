/// An immutable, compiled filter: a character-level Aho-Corasick automaton in double-array layout, with the
/// normalisation folds baked into a per-scalar symbol table.
///
/// Thread safety: immutable after `init`; share one instance between any number of threads. Swap in a new
/// one through `FilterEngine`.
///
/// Matching semantics:
/// * leftmost-longest, non-overlapping, on the normalised text;
/// * a match whose whole span is covered by an allow-listed phrase is dropped;
/// * Latin-script words match only as whole words when `FilterOptions.wholeWordLatin` is on;
/// * spans are reported as UTF-8 byte offsets into the original text.
///
/// Cost: linear in the input length (at most one automaton step per input scalar plus amortised failure
/// links); words are limited to `CompiledFilter.maxWordLength` normalised characters.
public final class CompiledFilter: @unchecked Sendable {
    /// The smallest automaton label; smaller symbol codes are the special classes above.
    static let firstLabel: UInt16 = 5
    static let spaceCode: UInt16 = 4
    static let labelMask: UInt16 = 0x7FFF
    static let rootChildBit: UInt16 = 0x8000
    /// Labels are the values from `firstLabel` up to `labelMask` whose low four bits are below 13, so that a
    /// label's Bloom bit is `label & 15` (`DoubleArrayLayout.bloomBit`): 26,619 of them.
    static let maxAlphabet = (Int(labelMask) + 1) / 16 * 13 - Int(firstLabel)

    /// The label of the `k`-th character of the alphabet (0-based).
    static func label(number k: Int) -> UInt16 {
        let m = k + Int(firstLabel)
        return UInt16(m / 13 * 16 + m % 13)
    }
    static let wordEntryBit: UInt32 = 1 << 31

    /// Whether a folded noise scalar is whitespace (skippable only after a one-character run).
    static func isSpace(_ v: UInt32) -> Bool {
        switch v {
        case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// The longest word, in normalised characters, a dictionary may hold.
    public static let maxWordLength = 120

    /// The dictionary this filter was compiled from.
    public let dictionary: FilterDictionary
    /// The options this filter was compiled with.
    public let options: FilterOptions
    /// Size and build figures.
    public let statistics: Statistics

    let folder: ScalarFolder
    let entryTable: FilterEntryTable
    var entries: [FilterEntry] { entryTable.entries }
    let allowPhrases: [String]
    let patterns: UnsafeMutablePointer<PatternInfo>
    // The double array (see `DoubleArrayLayout`), four parallel arrays of `unitCount` slots.
    /// Per slot: `hot` in bits 0…15, `check` in bits 16…31, `base` in bits 32…63, so landing on a state
    /// brings its flags, its check and the base for the next step in one 8-byte load.
    let units: UnsafeMutablePointer<UInt64>
    let failDepth: UnsafeMutablePointer<UInt32>
    let unitCount: Int
    /// The root's base: the root's child for label `a` is slot `rootBase + a`, when the symbol says it exists.
    let rootBase: Int32
    let terminalWords: UnsafeMutablePointer<UInt64>
    let terminalPrefix: UnsafeMutablePointer<UInt32>
    let dictWords: UnsafeMutablePointer<UInt64>
    let dictPrefix: UnsafeMutablePointer<UInt32>
    let dictTarget: UnsafeMutablePointer<Int32>
    /// Scalar → symbol for the BMP: 0 = not in any word, 1 = ignorable, 2 = noise, 3 = slow path,
    /// 4 = whitespace noise, ≥ 5 = a label (`CompiledFilter.firstLabel`) in bits 0…14, with bit 15 set when
    /// the root has a child for it (a dense root table folded into the symbol table).
    /// Bits 16…30 of each entry hold the `hot` word of the root's child for that label (0 if none; its
    /// fail-is-root bit is implied), so a root transition needs no second lookup. Bit 31: the scalar is a
    /// word character (only with `wholeWordLatin`; drives mid-word pruning).
    let bmpSymbols: UnsafeMutablePointer<UInt32>
    /// The same for U+1D000…U+1FBFF.
    let astralSymbols: UnsafeMutablePointer<UInt32>
    /// Folded scalar → symbol (label plus root-child bit), for the slow path.
    let alphabet: [UInt32: UInt16]
    let repeats: Bool
    let maxNoiseRun: Int
    let foldTable: FoldBaseTable
    /// Word length in symbols, by word number (cold path only).
    let patternLengths: [UInt8]

    /// Size and build figures of a compiled filter.
    public struct Statistics: Sendable, Hashable {
        /// Distinct normalised words (deny and allow) in the automaton.
        public var wordCount: Int
        /// Automaton states (trie nodes).
        public var stateCount: Int
        /// Double-array slots, including empty ones.
        public var slotCount: Int
        /// Distinct normalised characters in the dictionary.
        public var alphabetSize: Int
        /// Bytes of the automaton proper: double array, output links, rank directories, word table.
        public var automatonBytes: Int
        /// Bytes of the per-scalar symbol tables (fixed: BMP plus the astral window).
        public var symbolTableBytes: Int
        /// Wall-clock build time in seconds.
        public var buildSeconds: Double

        /// `automatonBytes / stateCount`.
        public var bytesPerState: Double { Double(automatonBytes) / Double(max(stateCount, 1)) }
    }

    /// Per word, 4 bytes: index into `entries` (deny) or `allowPhrases` (allow) in bits 0…25, the action in
    /// bits 26…27, then has-replacement, allow, needs-left-boundary and needs-right-boundary flags.
    /// Stored in the order of the words' terminal states, so a terminal's rank is its word number.
    struct PatternInfo {
        var bits: UInt32

        static let actionShift: UInt32 = 26
        static let hasReplacement: UInt32 = 1 << 28
        static let allow: UInt32 = 1 << 29
        static let needsLeft: UInt32 = 1 << 30
        static let needsRight: UInt32 = 1 << 31
        static let indexMask: UInt32 = (1 << 26) - 1
        static let maxIndex = Int(indexMask)

        init(index: Int, flags: UInt32) { bits = UInt32(index) | flags }
        var index: Int { Int(bits & Self.indexMask) }
        var isAllow: Bool { bits & Self.allow != 0 }
        var action: FilterAction {
            switch (bits >> Self.actionShift) & 3 {
            case 0: .replace
            case 1: .review
            default: .reject
            }
        }

        static func flags(for entry: FilterEntry) -> UInt32 {
            var flags = UInt32(entry.action.strictness) << actionShift
            if entry.replacement != nil { flags |= hasReplacement }
            return flags
        }
    }

    /// Compiles `dictionary` with `options`.
    ///
    /// - Throws: `FilterDictionaryError` with code `word_too_long` if a word has more than `maxWordLength`
    ///   characters after normalisation, or `alphabet_too_large` / `automaton_too_large` for dictionaries
    ///   beyond the layout's limits.
    public init(dictionary: FilterDictionary, options: FilterOptions = .standard) throws(FilterDictionaryError) {
        let clock = ContinuousClock()
        let started = clock.now
        self.dictionary = dictionary
        self.options = options
        let folder = ScalarFolder(options: options)
        self.folder = folder
        repeats = options.folds.contains(.repeats)
        maxNoiseRun = options.maxNoiseRun
        let foldTable = FoldBaseTable.shared(for: folder)
        self.foldTable = foldTable

        // 1. Normalise every word into folded scalars.
        var entries = [FilterEntry]()
        entries.reserveCapacity(dictionary.entries.count)
        for entry in dictionary.entries.values { entries.append(entry) }
        let allowPhrases = Array(dictionary.allowList)
        let total = entries.count + allowPhrases.count
        guard total <= PatternInfo.maxIndex else { throw .automatonTooLarge(states: total) }
        var folded = [UInt32]()
        folded.reserveCapacity(total * 4)
        var foldedOffsets = [Int]()
        foldedOffsets.reserveCapacity(total + 1)
        foldedOffsets.append(0)
        func appendFolded(_ word: String) {
            for scalar in word.unicodeScalars {
                let v = scalar.value
                var entry: UInt32
                if v < 0x10000 {
                    entry = foldTable.bmp[Int(v)]
                } else if v >= FoldBaseTable.astralStart, v < FoldBaseTable.astralEnd {
                    entry = foldTable.astral[Int(v - FoldBaseTable.astralStart)]
                } else {
                    entry = 3 << FoldBaseTable.kindShift
                }
                switch entry >> FoldBaseTable.kindShift {
                case 0:
                    folded.append(entry & FoldBaseTable.scalarMask)
                case 1, 2:
                    continue
                default:
                    let outcome = folder.fold(v)
                    guard outcome.kind == .scalars else { continue }
                    folded.append(outcome.first)
                    if outcome.second != 0 { folded.append(outcome.second) }
                }
            }
            foldedOffsets.append(folded.count)
        }
        for entry in entries { appendFolded(entry.word) }
        for phrase in allowPhrases { appendFolded(phrase) }

        // 2. Alphabet: labels by descending frequency (`label(number:)`).
        var frequency = [UInt32: Int]()
        for v in folded { frequency[v, default: 0] += 1 }
        guard frequency.count <= Self.maxAlphabet else { throw .alphabetTooLarge(count: frequency.count) }
        let ordered = frequency.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        var alphabet = [UInt32: UInt16](minimumCapacity: ordered.count)
        for (index, pair) in ordered.enumerated() { alphabet[pair.key] = Self.label(number: index) }
        var denseBMP = [UInt16](repeating: 0, count: 0x10000)
        for (v, label) in alphabet where v < 0x10000 { denseBMP[Int(v)] = label }

        // 3. Keys as label sequences; pattern metadata.
        var keySymbols = [UInt16]()
        keySymbols.reserveCapacity(folded.count)
        var keyOffsets = [Int]()
        keyOffsets.reserveCapacity(total + 1)
        keyOffsets.append(0)
        var keyInfo = [PatternInfo]()
        keyInfo.reserveCapacity(total)
        for k in 0..<total {
            let lo = foldedOffsets[k]
            let hi = foldedOffsets[k + 1]
            let isAllow = k >= entries.count
            if hi - lo > Self.maxWordLength {
                throw .wordTooLong(word: isAllow ? allowPhrases[k - entries.count] : entries[k].word, limit: Self.maxWordLength)
            }
            for i in lo..<hi {
                let v = folded[i]
                keySymbols.append(v < 0x10000 ? denseBMP[Int(v)] : alphabet[v]!)
            }
            keyOffsets.append(keySymbols.count)
            var flags: UInt32 = isAllow ? PatternInfo.allow : PatternInfo.flags(for: entries[k])
            if options.wholeWordLatin, hi > lo {
                if ScalarFolder.isWordScalar(folded[lo]) { flags |= PatternInfo.needsLeft }
                if ScalarFolder.isWordScalar(folded[hi - 1]) { flags |= PatternInfo.needsRight }
            }
            keyInfo.append(PatternInfo(index: isAllow ? k - entries.count : k, flags: flags))
        }

        // 4. Sort keys, merge duplicates (allow wins over deny; the stricter deny entry wins over another).
        // Sort by a 64-bit prefix (first four labels), then by the full key on ties.
        var sortable = [(prefix: UInt64, key: Int32)]()
        sortable.reserveCapacity(total)
        keySymbols.withUnsafeBufferPointer { sym in
            for k in 0..<total where keyOffsets[k + 1] > keyOffsets[k] {
                var prefix: UInt64 = 0
                let lo = keyOffsets[k]
                let hi = keyOffsets[k + 1]
                for i in 0..<4 { prefix = prefix << 16 | (lo + i < hi ? UInt64(sym[lo + i]) : 0) }
                sortable.append((prefix, Int32(k)))
            }
            keyOffsets.withUnsafeBufferPointer { offsets in
                sortable.sort { x, y in
                    if x.prefix != y.prefix { return x.prefix < y.prefix }
                    var i = offsets[Int(x.key)]
                    let iEnd = offsets[Int(x.key) + 1]
                    var j = offsets[Int(y.key)]
                    let jEnd = offsets[Int(y.key) + 1]
                    while i < iEnd, j < jEnd {
                        if sym[i] != sym[j] { return sym[i] < sym[j] }
                        i += 1
                        j += 1
                    }
                    return iEnd - i < jEnd - j
                }
            }
        }
        let order = sortable.map(\.key)
        func sameKey(_ a: Int32, _ b: Int32) -> Bool {
            let ra = keyOffsets[Int(a)]..<keyOffsets[Int(a) + 1]
            let rb = keyOffsets[Int(b)]..<keyOffsets[Int(b) + 1]
            return ra.count == rb.count && keySymbols[ra].elementsEqual(keySymbols[rb])
        }
        func prefer(_ candidate: PatternInfo, over current: PatternInfo) -> Bool {
            let candidateAllow = candidate.isAllow
            let currentAllow = current.isAllow
            if candidateAllow != currentAllow { return candidateAllow }
            if candidateAllow { return false }
            let x = entries[Int(candidate.index)]
            let y = entries[Int(current.index)]
            if x.isStricter(than: y) { return true }
            if y.isStricter(than: x) { return false }
            return (x.word, x.category) < (y.word, y.category)
        }
        var uniqueSymbols = [UInt16]()
        uniqueSymbols.reserveCapacity(keySymbols.count)
        var uniqueOffsets = [0]
        var patternInfo = [PatternInfo]()
        var index = 0
        while index < order.count {
            let key = order[index]
            var best = keyInfo[Int(key)]
            var next = index + 1
            while next < order.count, sameKey(order[next], key) {
                if prefer(keyInfo[Int(order[next])], over: best) { best = keyInfo[Int(order[next])] }
                next += 1
            }
            uniqueSymbols.append(contentsOf: keySymbols[keyOffsets[Int(key)]..<keyOffsets[Int(key) + 1]])
            uniqueOffsets.append(uniqueSymbols.count)
            patternInfo.append(best)
            index = next
        }

        // 5. Double array.
        var builder = DoubleArrayBuilder(
            symbols: uniqueSymbols, offsets: uniqueOffsets, order: Array(0..<Int32(patternInfo.count)))
        builder.build()
        let count = builder.base.count
        guard count < DoubleArrayLayout.maxSlots else { throw .automatonTooLarge(states: count) }
        unitCount = count
        let units = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        self.units = units
        failDepth = .allocate(capacity: count)
        for i in 0..<count {
            let meta = builder.meta[i]
            var flags = meta & DoubleArrayLayout.outputMask
            if builder.fail[i] == 0 { flags |= DoubleArrayLayout.failIsRoot }
            let hot = (i == 0 ? 0 : builder.bloom[i] & DoubleArrayLayout.bloomMask) | flags
            units[i] = UInt64(hot) | UInt64(builder.check[i]) << 16 | UInt64(UInt32(bitPattern: builder.base[i])) << 32
            failDepth[i] = UInt32(builder.fail[i]) | UInt32(meta & 0x7F) << DoubleArrayLayout.depthShift
        }
        // Fold the root's transitions into the symbols: bit 15 = the root has a child for this label.
        let rootBase = builder.base[0]
        self.rootBase = rootBase
        let rootBaseValue = rootBase
        func encoded(_ label: UInt16) -> UInt16 {
            let t = Int(rootBase) + Int(label)
            let isChild = rootBase != DoubleArrayLayout.leafBase && t >= 0 && t < count && builder.check[t] == label
            return isChild ? label | Self.rootChildBit : label
        }
        for (v, label) in alphabet { alphabet[v] = encoded(label) }
        for v in 0..<0x10000 where denseBMP[v] != 0 { denseBMP[v] = encoded(denseBMP[v]) }
        self.alphabet = alphabet
        let terminalBits = RankedBits(count: count) { builder.terminalKey[$0] >= 0 }
        let dictBits = RankedBits(count: count) { builder.dictLink[$0] >= 0 }
        terminalWords = .allocate(capacity: max(terminalBits.words.count, 1))
        terminalPrefix = .allocate(capacity: max(terminalBits.prefix.count, 1))
        dictWords = .allocate(capacity: max(dictBits.words.count, 1))
        dictPrefix = .allocate(capacity: max(dictBits.prefix.count, 1))
        for (i, w) in terminalBits.words.enumerated() { terminalWords[i] = w }
        for (i, w) in terminalBits.prefix.enumerated() { terminalPrefix[i] = w }
        for (i, w) in dictBits.words.enumerated() { dictWords[i] = w }
        for (i, w) in dictBits.prefix.enumerated() { dictPrefix[i] = w }
        var dictTargets = [Int32]()
        patterns = .allocate(capacity: max(patternInfo.count, 1))
        var terminalCount = 0
        for i in 0..<count {
            if builder.terminalKey[i] >= 0 {
                patterns[terminalCount] = patternInfo[Int(builder.terminalKey[i])]
                terminalCount += 1
            }
            if builder.dictLink[i] >= 0 { dictTargets.append(builder.dictLink[i]) }
        }
        dictTarget = .allocate(capacity: max(dictTargets.count, 1))
        for (i, t) in dictTargets.enumerated() { dictTarget[i] = t }

        // 6. Symbol tables.
        let bmpSymbols = UnsafeMutablePointer<UInt32>.allocate(capacity: 0x10000)
        func withRootHot(_ sym: UInt16) -> UInt32 {
            guard sym >= Self.firstLabel, sym & Self.rootChildBit != 0 else { return UInt32(sym) }
            let child = Int(rootBaseValue) + Int(sym & Self.labelMask)
            return UInt32(sym) | UInt32(truncatingIfNeeded: units[child] & 0x7FFF) << 16
        }
        let pruneMidWord = options.wholeWordLatin
        let bmpInfo = foldTable.bmpInfo
        let astralInfo = foldTable.astralInfo
        self.bmpSymbols = bmpSymbols
        foldTable.bmp.withUnsafeBufferPointer { bmp in
            for v in 0..<0x10000 {
                let entry = bmp[v]
                let kind = entry >> FoldBaseTable.kindShift
                if kind == 2, Self.isSpace(entry & FoldBaseTable.scalarMask) {
                    bmpSymbols[v] = UInt32(Self.spaceCode)
                } else if kind != 0 {
                    bmpSymbols[v] = kind
                } else {
                    let folded = entry & FoldBaseTable.scalarMask
                    bmpSymbols[v] = withRootHot(folded < 0x10000 ? denseBMP[Int(folded)] : (alphabet[folded] ?? 0))
                }
                if pruneMidWord, bmpInfo[v] & FoldBaseTable.wordBit != 0 { bmpSymbols[v] |= Self.wordEntryBit }
            }
        }
        let astralCount = Int(FoldBaseTable.astralEnd - FoldBaseTable.astralStart)
        let astralSymbols = UnsafeMutablePointer<UInt32>.allocate(capacity: astralCount)
        self.astralSymbols = astralSymbols
        for i in 0..<astralCount {
            let entry = foldTable.astral[i]
            let kind = entry >> FoldBaseTable.kindShift
            if kind == 0 {
                let v = entry & FoldBaseTable.scalarMask
                astralSymbols[i] = withRootHot(v < 0x10000 ? denseBMP[Int(v)] : (alphabet[v] ?? 0))
            } else {
                astralSymbols[i] = kind == 2 && Self.isSpace(entry & FoldBaseTable.scalarMask) ? UInt32(Self.spaceCode) : kind
            }
            if pruneMidWord, astralInfo[i] & FoldBaseTable.wordBit != 0 { astralSymbols[i] |= Self.wordEntryBit }
        }

        entryTable = FilterEntryTable(entries)
        self.allowPhrases = allowPhrases
        var lengths = [UInt8](repeating: 0, count: patternInfo.count)
        var rank = 0
        for i in 0..<count where builder.terminalKey[i] >= 0 {
            lengths[rank] = UInt8(builder.meta[i] & 0x7F)
            rank += 1
        }
        patternLengths = lengths
        let automatonBytes = count * (4 + 2 + 2 + 4) + terminalBits.byteCount + dictBits.byteCount
            + dictTargets.count * 4 + patternInfo.count * MemoryLayout<PatternInfo>.stride
        statistics = Statistics(
            wordCount: patternInfo.count, stateCount: builder.stateCount, slotCount: count, alphabetSize: alphabet.count,
            automatonBytes: automatonBytes, symbolTableBytes: (0x10000 + astralCount) * 4,
            buildSeconds: Self.seconds(clock.now - started))
    }

    deinit {
        units.deallocate()
        failDepth.deallocate()
        terminalWords.deallocate()
        terminalPrefix.deallocate()
        dictWords.deallocate()
        dictPrefix.deallocate()
        dictTarget.deallocate()
        patterns.deallocate()
        bmpSymbols.deallocate()
        astralSymbols.deallocate()
    }

    static func seconds(_ duration: Duration) -> Double {
        let (s, attoseconds) = duration.components
        return Double(s) + Double(attoseconds) * 1e-18
    }

    /// The word number of a terminal state: its rank among terminal states.
    @inline(__always)
    func patternIndex(atTerminal slot: Int) -> Int {
        let w = slot >> 6
        let mask = (UInt64(1) << UInt64(slot & 63)) &- 1
        return Int(terminalPrefix[w]) + (terminalWords[w] & mask).nonzeroBitCount
    }

    @inline(__always)
    func dictLink(of slot: Int) -> Int {
        let w = slot >> 6
        let mask = (UInt64(1) << UInt64(slot & 63)) &- 1
        return Int(dictTarget[Int(dictPrefix[w]) + (dictWords[w] & mask).nonzeroBitCount])
    }

    func patternLength(_ k: Int) -> Int { Int(patternLengths[k]) }

    /// The label for a folded scalar, 0 if no word contains it.
    func label(forFolded v: UInt32) -> UInt16 {
        alphabet[v] ?? 0
    }

    /// Symbols for a scalar on the slow path. `kind`: 1 ignorable, 2 noise, 4 whitespace noise, 0 one
    /// symbol (`first`, 0 = not in any word), 5 two symbols (`first`, `second`).
    func slowSymbols(_ v: UInt32) -> (kind: UInt8, first: UInt16, second: UInt16, isWord: Bool) {
        let outcome = folder.fold(v)
        switch outcome.kind {
        case .ignorable: return (1, 0, 0, false)
        case .noise: return (Self.isSpace(outcome.first) ? 4 : 2, 0, 0, false)
        case .scalars:
            let first = label(forFolded: outcome.first)
            let isWord = options.wholeWordLatin && ScalarFolder.isWordScalar(outcome.first)
            if outcome.second == 0 { return (0, first, 0, isWord) }
            return (5, first, label(forFolded: outcome.second), isWord)
        }
    }

    /// What the scanner needs to know about one input scalar outside the hot loop.
    struct ScalarInfo {
        /// 0 = one folded scalar, 1 = ignorable, 2 = noise, 3 = two folded scalars.
        var kind: UInt32
        var isWord: Bool
        var fired: FoldSet
        /// The label of the folded scalar (kind 0 only; 0 if no word contains it).
        var symbol: UInt16
    }

    func scalarInfo(_ v: UInt32) -> ScalarInfo {
        if v < 0x10000 {
            let info = foldTable.bmpInfo[Int(v)]  // raw pointer
            return ScalarInfo(
                kind: foldTable.bmp[Int(v)] >> FoldBaseTable.kindShift, isWord: info & FoldBaseTable.wordBit != 0,
                fired: FoldSet(rawValue: info & 0x3FF), symbol: UInt16(truncatingIfNeeded: bmpSymbols[Int(v)]))
        }
        if v >= FoldBaseTable.astralStart, v < FoldBaseTable.astralEnd {
            let index = Int(v - FoldBaseTable.astralStart)
            let info = foldTable.astralInfo[index]
            return ScalarInfo(
                kind: foldTable.astral[index] >> FoldBaseTable.kindShift, isWord: info & FoldBaseTable.wordBit != 0,
                fired: FoldSet(rawValue: info & 0x3FF), symbol: UInt16(truncatingIfNeeded: astralSymbols[index]))
        }
        let outcome = folder.fold(v)
        switch outcome.kind {
        case .ignorable: return ScalarInfo(kind: 1, isWord: false, fired: outcome.fired, symbol: 0)
        case .noise: return ScalarInfo(kind: 2, isWord: false, fired: outcome.fired, symbol: 0)
        case .scalars:
            return ScalarInfo(
                kind: outcome.second != 0 ? 3 : 0, isWord: ScalarFolder.isWordScalar(outcome.first), fired: outcome.fired,
                symbol: outcome.second != 0 ? 0 : label(forFolded: outcome.first))
        }
    }
}

/// The deny entries of a compiled filter, shared by reference with the matches that point into it.
final class FilterEntryTable: Sendable {
    let entries: [FilterEntry]
    init(_ entries: [FilterEntry]) { self.entries = entries }
}
