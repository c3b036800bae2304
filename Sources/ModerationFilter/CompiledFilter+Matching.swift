extension CompiledFilter {
    /// Matches recorded on the stack before the scanner moves them to the heap (a chat message rarely has more).
    static let inlineMatchCapacity = 32

    /// Finds the dictionary words in `text`: leftmost-longest, non-overlapping, allow-list applied.
    public func scan(_ text: String) -> [FilterMatch] {
        withUTF8(text) { bytes in withRawMatches(bytes, .collect) { raw, _ in makeMatches(raw, bytes) } }
    }

    /// Scans `text` and applies the matches: rewrites `replace` matches and computes the verdict.
    ///
    /// Texts without matches, or without `replace` matches, come back unchanged without copying. Otherwise the
    /// rewritten text is assembled in a temporary buffer (unchanged runs copied with `memmove`, stars or the
    /// word's replacement in between) and copied into the new `String` once, without re-validating it (before
    /// macOS 26 and its `UTF8Span`, the `String` is built in place and validated).
    public func apply(_ text: String) -> FilterOutcome {
        withUTF8(text) { bytes in
            withRawMatches(bytes, .collect) { raw, _ in
                if raw.isEmpty { return FilterOutcome(text: text, verdict: .allow, matches: []) }
                var strictest = FilterAction.replace
                var size = bytes.count  // an upper bound: stars never outnumber the bytes they replace
                var rewrites = false
                for match in raw {
                    let info = patterns[Int(match.pattern)]
                    let action = info.action
                    if action > strictest { strictest = action }
                    guard action == .replace else { continue }
                    rewrites = true
                    if info.bits & PatternInfo.hasReplacement != 0, let replacement = entryTable.entries[info.index].replacement {
                        size += replacement.utf8.count
                    }
                }
                let matches = makeMatches(raw, bytes)
                let verdict = FilterVerdict(strictest)
                guard rewrites else { return FilterOutcome(text: text, verdict: verdict, matches: matches) }
                return FilterOutcome(text: rewrite(bytes, raw, capacity: size), verdict: verdict, matches: matches)
            }
        }
    }

    /// The text of `bytes` with every `replace` match in `raw` rewritten. `capacity` bounds its UTF-8 length.
    func rewrite(_ bytes: UnsafeBufferPointer<UInt8>, _ raw: UnsafeBufferPointer<RawMatch>, capacity: Int) -> String {
        if #available(macOS 26, iOS 26, watchOS 26, tvOS 26, visionOS 26, *) {
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
                let out = buffer.baseAddress!
                let count = writeRewrite(bytes, raw, into: out)
                // Valid UTF-8 by construction: runs of the (valid) input cut at scalar boundaries, ASCII stars and
                // replacement `String`s. So the copy into the `String` skips validation. The ASCII flag is passed
                // on (as validation would have set it): without it, ASCII-only results would lose the standard
                // library's ASCII fast paths (UTF-16 views, comparison, bridging).
                let span = unsafe Span(_unsafeElements: UnsafeBufferPointer(start: out, count: count))
                return String(copying: unsafe UTF8Span(unchecked: span, isKnownASCII: Self.isASCII(out, count)))
            }
        }
        return String(unsafeUninitializedCapacity: capacity) { writeRewrite(bytes, raw, into: $0.baseAddress!) }
    }

    /// Whether `count` bytes at `p` are all ASCII (eight at a time).
    static func isASCII(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        let raw = UnsafeRawPointer(p)
        var i = 0
        var high: UInt64 = 0
        while i &+ 8 <= count {
            high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        while i < count {
            high |= UInt64(p[i])
            i &+= 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    /// Writes the rewritten text into `out` (at least `capacity` bytes, see `apply`) and returns its length.
    func writeRewrite(_ bytes: UnsafeBufferPointer<UInt8>, _ raw: UnsafeBufferPointer<RawMatch>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let source = bytes.baseAddress!
        var written = 0
        var last = 0
        for match in raw {
            let info = patterns[Int(match.pattern)]
            guard info.action == .replace else { continue }
            let unchanged = match.start - last
            (out + written).update(from: source + last, count: unchanged)
            written += unchanged
            if info.bits & PatternInfo.hasReplacement != 0, var replacement = entryTable.entries[info.index].replacement {
                written += replacement.withUTF8 { r in
                    if let base = r.baseAddress { (out + written).update(from: base, count: r.count) }
                    return r.count
                }
            } else {
                let stars = visibleCharacterCount(UnsafeBufferPointer(start: source + match.start, count: match.end - match.start))
                (out + written).update(repeating: UInt8(ascii: "*"), count: stars)
                written += stars
            }
            last = match.end
        }
        (out + written).update(from: source + last, count: bytes.count - last)
        return written + bytes.count - last
    }

    /// The number of matches `scan` would report, without building them. For hot paths that only need a
    /// yes/no or a count.
    public func matchCount(in text: String) -> Int {
        withUTF8(text) { withRawMatches($0, .countMatches) { $1 } }
    }

    /// Counts every occurrence of every word, overlapping, with standard Aho-Corasick semantics on the
    /// normalised text (no word-boundary check, no allow-list, no repeat folding). Meant for verifying the
    /// automaton against reference engines.
    public func countOverlappingMatches(in text: String) -> Int {
        withUTF8(text) { withRawMatches($0, .countOverlapping) { $1 } }
    }

    /// Runs the scanner over `bytes` and calls `body` with the recorded matches (`.collect` only; empty otherwise)
    /// and the count for `mode`. The matches live on the stack unless there are more than `inlineMatchCapacity`.
    @inline(__always)
    func withRawMatches<R>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ mode: Scanner.Mode, _ body: (UnsafeBufferPointer<RawMatch>, Int) -> R
    ) -> R {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return body(UnsafeBufferPointer(start: nil, count: 0), 0) }
        // Four blocks of at most 1 KiB each, so that all of them are on the stack.
        return withUnsafeTemporaryAllocation(of: PositionSlot.self, capacity: Scanner.ringSize) { ring in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: Scanner.ringSize) { ringStart in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: Scanner.ringSize) { ringEnd in
                    withUnsafeTemporaryAllocation(of: RawMatch.self, capacity: Self.inlineMatchCapacity) { stack in
                        var scanner = Scanner(
                            filter: self, text: base, count: bytes.count, ring: ring.baseAddress!,
                            ringStart: ringStart.baseAddress!, ringEnd: ringEnd.baseAddress!, raw: stack.baseAddress!,
                            rawCapacity: stack.count, mode: mode)
                        scanner.run()
                        defer { if scanner.rawIsHeap { scanner.raw.deallocate() } }
                        let recorded = mode == .collect ? scanner.count : 0
                        return body(UnsafeBufferPointer(start: scanner.raw, count: recorded), scanner.count)
                    }
                }
            }
        }
    }

    /// The public `FilterMatch` values for the recorded matches, in one allocation. (Not
    /// `Array(unsafeUninitializedCapacity:)`: that allocates through an unspecialised standard-library entry
    /// point, which looks up the storage class's generic metadata on every call.)
    func makeMatches(_ raw: UnsafeBufferPointer<RawMatch>, _ bytes: UnsafeBufferPointer<UInt8>) -> [FilterMatch] {
        if raw.isEmpty { return [] }
        var matches = [FilterMatch]()
        matches.reserveCapacity(raw.count)
        for match in raw { matches.append(makeMatch(match, bytes)) }
        return matches
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
            if bytes[i] < 0x80 {  // no ASCII character is zero-width or a combining mark
                count += 1
                i += 1
                continue
            }
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
