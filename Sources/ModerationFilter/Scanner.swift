/// A match before it is dressed up for the public API: byte span and word number.
struct RawMatch {
    var start: Int
    var end: Int
    var pattern: Int32
}

/// Per-symbol-position bookkeeping, kept in a small ring buffer on the stack. The UTF-8 span of the input
/// scalar(s) that produced the symbol at each position is kept beside it in two parallel rings (`ringStart`,
/// `ringEnd`), so that each ring stays within the 1 KiB that `withUnsafeTemporaryAllocation` always puts on
/// the stack (a larger block may go to the heap, once per call).
struct PositionSlot {
    /// The word number of the longest valid deny word starting here (meaningful when `bestSpan >= 0`).
    var pattern: Int32
    /// Length - 1 (in positions) of the longest valid deny word starting here, or -1.
    var bestSpan: Int8
    /// Length - 1 (in positions) of the longest allow-listed phrase starting here, or -1.
    var allowSpan: Int8
    /// The symbol is a word character right after another word character: no whole-word match starts here.
    var midWord: Bool
}

/// The scanner's hot variables, kept in registers by the optimiser (never stored in `Scanner`). Keep this set
/// small: see the performance note on `Scanner`.
struct ScanRegisters {
    var state: Int32 = 0
    /// The `hot` word of `state`.
    var hot: UInt16 = 0
    /// The last non-invisible scalar was a word character (with `wholeWordLatin`).
    var prevWord = false
    /// Next symbol position.
    var pos = 0
    /// The last symbol fed, for repeat folding (0 after a reset).
    var prevSym: UInt16 = 0
    /// > 0: symbols fed since the last noise character (whitespace is skippable only after a run of 1);
    /// < 0: minus the noise characters skipped in a row; 0 after a reset.
    var run = 0
}

/// The immutable tables the hot loop reads, copied into locals once per scan.
struct ScanTables {
    let units: UnsafeMutablePointer<UInt64>
    let failDepth: UnsafeMutablePointer<UInt32>
    let unitCount: UInt32
    let rootBase: Int32
    let bmp: UnsafeMutablePointer<UInt32>
    let astral: UnsafeMutablePointer<UInt32>
    let ring: UnsafeMutablePointer<PositionSlot>
    let ringStart: UnsafeMutablePointer<Int>
    let ringEnd: UnsafeMutablePointer<Int>
    let repeats: Bool
    let maxNoise: Int

    /// The child of `s` for symbol `sym` (label plus root-child bit), or -1.
    @inline(__always)
    func child(_ s: Int32, _ sym: UInt16) -> Int32 {
        let a = sym & CompiledFilter.labelMask
        if s == 0 { return sym & CompiledFilter.rootChildBit != 0 ? rootBase &+ Int32(a) : -1 }
        let unit = units[Int(s)]
        if UInt16(truncatingIfNeeded: unit) & DoubleArrayLayout.bloomBit(a) == 0 { return -1 }
        let t = Int32(truncatingIfNeeded: unit >> 32) &+ Int32(a)
        return UInt32(bitPattern: t) < unitCount && UInt32(truncatingIfNeeded: units[Int(t)]) >> 16 == UInt32(a) ? t : -1
    }
}

/// The fused normalise + match loop over UTF-8 bytes.
///
/// Positions count symbols fed to the automaton (normalised characters). Leftmost-longest selection is done
/// online: a position closes once the automaton's current state no longer reaches back to it (no later
/// match can start there); closed positions are committed in order, which gives leftmost-longest in one pass,
/// without re-scanning. Word-boundary checks look at the original bytes around a candidate, only when one is
/// found. Each input scalar costs one table lookup and one automaton step (plus amortised failure links).
///
/// Performance note: the hot variables live in `ScanRegisters`, a local of `run()` whose address never
/// escapes (cold helpers take and return plain values), so the optimiser keeps them in registers; the
/// tables are a `let` copy, so they are not reloaded after each call. Everything that changes only around
/// candidates (`firstPending` included) stays in `Scanner`, in memory: one more variable in the registers
/// made the optimiser shuffle and spill the whole set on every symbol (1.4× the instructions per scanned
/// character, measured with callgrind).
struct Scanner {
    static let ringSize = 128
    static let ringMask = 127

    unowned(unsafe) let filter: CompiledFilter
    let tables: ScanTables
    let patterns: UnsafeMutablePointer<CompiledFilter.PatternInfo>
    let text: UnsafePointer<UInt8>
    let n: Int
    let mode: Mode

    enum Mode {
        /// Count every occurrence (standard Aho-Corasick overlapping semantics).
        case countOverlapping
        /// Count leftmost-longest matches without building them.
        case countMatches
        /// Record the matches' spans and word numbers (`RawMatch`) in `raw`.
        case collect
    }

    // Cold state: touched only when a candidate is found or committed.
    var cursor = 0
    var allowReach = -1
    var lastPending = -1
    /// The first position that may still hold an uncommitted candidate, `Int.max` if none. Kept in memory (not
    /// in `ScanRegisters`): it is read once per symbol but changes only around candidates.
    var firstPending = Int.max
    var count = 0
    /// `.collect`: the committed matches, `count` of them. Starts as the caller's (stack) buffer; when that is
    /// full it moves to a heap buffer twice the size, which the caller frees (`rawIsHeap`).
    var raw: UnsafeMutablePointer<RawMatch>
    var rawCapacity: Int
    var rawIsHeap = false

    init(
        filter: CompiledFilter, text: UnsafePointer<UInt8>, count: Int, ring: UnsafeMutablePointer<PositionSlot>,
        ringStart: UnsafeMutablePointer<Int>, ringEnd: UnsafeMutablePointer<Int>,
        raw: UnsafeMutablePointer<RawMatch>, rawCapacity: Int, mode: Mode
    ) {
        self.filter = filter
        tables = ScanTables(
            units: filter.units, failDepth: filter.failDepth,
            unitCount: UInt32(filter.unitCount), rootBase: filter.rootBase, bmp: filter.bmpSymbols,
            astral: filter.astralSymbols, ring: ring, ringStart: ringStart, ringEnd: ringEnd, repeats: filter.repeats,
            maxNoise: filter.maxNoiseRun)
        patterns = filter.patterns
        self.text = text
        n = count
        self.mode = mode
        self.raw = raw
        self.rawCapacity = rawCapacity
    }

    mutating func run() {
        let t = tables
        var r = ScanRegisters()
        var i = 0
        let text = self.text
        let n = self.n
        while i < n {
            let start = i
            let b0 = UInt32(text[i])
            let v: UInt32
            let entry: UInt32
            if b0 < 0x80 {
                v = b0
                entry = t.bmp[Int(v)]
                i &+= 1
            } else if b0 >= 0xE0, b0 < 0xF0 {
                v = (b0 & 0x0F) << 12 | UInt32(text[i &+ 1] & 0x3F) << 6 | UInt32(text[i &+ 2] & 0x3F)
                entry = t.bmp[Int(v)]
                i &+= 3
            } else if b0 < 0xE0 {
                v = (b0 & 0x1F) << 6 | UInt32(text[i &+ 1] & 0x3F)
                entry = t.bmp[Int(v)]
                i &+= 2
            } else {
                v = (b0 & 0x07) << 18 | UInt32(text[i &+ 1] & 0x3F) << 12 | UInt32(text[i &+ 2] & 0x3F) << 6
                    | UInt32(text[i &+ 3] & 0x3F)
                entry = v >= FoldBaseTable.astralStart && v < FoldBaseTable.astralEnd ? t.astral[Int(v &- FoldBaseTable.astralStart)] : 3
                i &+= 4
            }
            let sym = UInt16(truncatingIfNeeded: entry)
            if sym >= CompiledFilter.firstLabel {
                feed(sym, entry, start, i, &r, t)
            } else if sym == 0 {
                reset(&r)
                r.prevWord = entry >> 31 != 0
            } else if sym == CompiledFilter.spaceCode {
                space(&r, t)
                r.prevWord = false
            } else if sym == 2 {
                noise(&r, t)
                r.prevWord = false
            } else if sym == 3 {
                r = slowPath(v, start, i, r, t)
            }
        }
        if firstPending != Int.max { closePending(upTo: r.pos) }
    }

    /// Astral scalars outside the window and styled numbers above 9. Takes and returns the registers by value
    /// so that their address never escapes the hot loop.
    @inline(never)
    mutating func slowPath(_ v: UInt32, _ start: Int, _ end: Int, _ registers: ScanRegisters, _ t: ScanTables) -> ScanRegisters {
        var r = registers
        let folded = filter.slowSymbols(v)
        let wordBit: UInt32 = folded.isWord ? CompiledFilter.wordEntryBit : 0
        switch folded.kind {
        case 1: break
        case 2:
            noise(&r, t)
            r.prevWord = false
        case 4:
            space(&r, t)
            r.prevWord = false
        default:
            if folded.first == 0 {
                reset(&r)
                r.prevWord = folded.isWord
            } else {
                feed(folded.first, rootEntry(folded.first, t) | wordBit, start, end, &r, t)
            }
            if folded.kind == 5 {
                if folded.second == 0 {
                    reset(&r)
                    r.prevWord = folded.isWord
                } else {
                    feed(folded.second, rootEntry(folded.second, t) | wordBit, start, end, &r, t)
                }
            }
        }
        return r
    }

    /// A symbol-table entry (symbol plus the root child's `hot` word) for a symbol from the slow path.
    func rootEntry(_ sym: UInt16, _ t: ScanTables) -> UInt32 {
        guard sym & CompiledFilter.rootChildBit != 0 else { return UInt32(sym) }
        let hot = UInt32(truncatingIfNeeded: t.units[Int(t.rootBase) + Int(sym & CompiledFilter.labelMask)] & 0x7FFF)
        return UInt32(sym) | hot << 16
    }

    @inline(__always)
    mutating func reset(_ r: inout ScanRegisters) {
        r.state = 0
        r.hot = 0
        r.prevSym = 0
        r.run = 0
        if firstPending != Int.max { closePending(upTo: r.pos) }
    }

    @inline(__always)
    mutating func noise(_ r: inout ScanRegisters, _ t: ScanTables) {
        let gap = (r.run < 0 ? r.run : 0) &- 1
        r.run = gap
        if r.state != 0, gap < -t.maxNoise { reset(&r) }
    }

    /// Whitespace is noise only after a one-character run (`f u c k`, `傻 冒`); after a longer run it ends the
    /// word, so that ordinary words separated by spaces are not glued together.
    @inline(__always)
    mutating func space(_ r: inout ScanRegisters, _ t: ScanTables) {
        if r.run <= 1 { noise(&r, t) } else { reset(&r) }
    }

    /// Feeds one symbol. `entry` is its symbol-table entry: the root child's `hot` word in bits 16…30 and the
    /// word-character bit in bit 31.
    @inline(__always)
    mutating func feed(_ sym: UInt16, _ entry: UInt32, _ start: Int, _ end: Int, _ r: inout ScanRegisters, _ t: ScanTables) {
        var s = r.state
        if t.repeats, sym == r.prevSym, s != 0, t.child(s, sym) < 0 {
            // A repeated character: fold it into the previous position.
            t.ringEnd[(r.pos &- 1) & Scanner.ringMask] = end
            r.run = r.run > 0 ? r.run : 1
            return
        }
        let isWord = entry >> 31 != 0
        // Whole-word pruning: a Latin word can only start a match at a word start, so while inside a word the
        // automaton does not enter states whose string starts mid-word (no candidate there could pass the
        // left-boundary check). CJK symbols are never word characters.
        let midWord = r.prevWord && isWord
        r.prevWord = isWord
        r.run = (r.run > 0 ? r.run : 0) &+ 1
        r.prevSym = sym
        let a = sym & CompiledFilter.labelMask
        let j = r.pos
        var next: Int32 = 0
        var h: UInt16 = 0
        var found = false
        if s != 0 {
            let bit = DoubleArrayLayout.bloomBit(a)
            var hs = r.hot
            while true {
                if hs & bit != 0 {
                    let c = Int32(truncatingIfNeeded: t.units[Int(s)] >> 32) &+ Int32(a)
                    if UInt32(bitPattern: c) < t.unitCount {
                        let unit = t.units[Int(c)]
                        if UInt32(truncatingIfNeeded: unit) >> 16 == UInt32(a) {
                            next = c
                            h = UInt16(truncatingIfNeeded: unit)
                            found = true
                            break
                        }
                    }
                }
                if hs & DoubleArrayLayout.failIsRoot != 0 { break }
                s = Int32(bitPattern: t.failDepth[Int(s)] & 0x00FF_FFFF)
                hs = UInt16(truncatingIfNeeded: t.units[Int(s)])
                if midWord {
                    // The failure target's string starts at position j - depth; skip it if that is mid-word.
                    let startPosition = j &- Int(t.failDepth[Int(s)] >> DoubleArrayLayout.depthShift)
                    if t.ring[startPosition & Scanner.ringMask].midWord { hs &= ~DoubleArrayLayout.bloomMask }
                }
            }
        }
        if !found, sym & CompiledFilter.rootChildBit != 0, !midWord {
            next = t.rootBase &+ Int32(a)
            h = UInt16(truncatingIfNeeded: entry >> 16) | DoubleArrayLayout.failIsRoot
        }
        r.state = next
        r.hot = h
        r.pos = j &+ 1
        let slotIndex = j & Scanner.ringMask
        t.ringStart[slotIndex] = start
        t.ringEnd[slotIndex] = end
        t.ring[slotIndex] = PositionSlot(pattern: 0, bestSpan: -1, allowSpan: -1, midWord: midWord)
        if firstPending != Int.max {
            let live = j &- Int(t.failDepth[Int(next)] >> DoubleArrayLayout.depthShift) &+ 1
            if firstPending < live { closePending(upTo: live) }
        }
        if h & DoubleArrayLayout.outputMask != 0 { outputs(Int(next), j, prevSym: sym) }
    }

    /// Records the words ending at position `j` in state `s`.
    @inline(never)
    mutating func outputs(_ s: Int, _ j: Int, prevSym: UInt16) {
        var x = s
        var h = UInt16(truncatingIfNeeded: tables.units[x])
        if h & DoubleArrayLayout.terminal != 0 {
            emit(filter.patternIndex(atTerminal: x), Int(tables.failDepth[x] >> DoubleArrayLayout.depthShift), j, state: Int32(s), prevSym: prevSym)
        }
        while h & DoubleArrayLayout.hasDictLink != 0 {
            x = filter.dictLink(of: x)
            h = UInt16(truncatingIfNeeded: tables.units[x])
            emit(filter.patternIndex(atTerminal: x), Int(tables.failDepth[x] >> DoubleArrayLayout.depthShift), j, state: Int32(s), prevSym: prevSym)
        }
    }

    @inline(__always)
    mutating func emit(_ k: Int, _ length: Int, _ j: Int, state: Int32, prevSym: UInt16) {
        if mode == .countOverlapping {
            count &+= 1
            return
        }
        let info = patterns[k]
        let p = j &- length &+ 1
        let isAllow = info.isAllow
        if !isAllow, p < cursor { return }
        if info.bits & CompiledFilter.PatternInfo.needsLeft != 0, !leftBoundaryOK(tables.ringStart[p & Scanner.ringMask]) { return }
        if info.bits & CompiledFilter.PatternInfo.needsRight != 0,
            !rightBoundaryOK(tables.ringEnd[j & Scanner.ringMask], state: state, prevSym: prevSym)
        {
            return
        }
        let slot = tables.ring + (p & Scanner.ringMask)
        let span = Int8(truncatingIfNeeded: j &- p)
        if isAllow {
            if span > slot.pointee.allowSpan { slot.pointee.allowSpan = span }
        } else {
            slot.pointee.bestSpan = span
            slot.pointee.pattern = Int32(k)
        }
        if p < firstPending { firstPending = p }
        if p > lastPending { lastPending = p }
    }

    /// Commits, in order, every pending position before `live` (no match can start there any more), and
    /// moves `firstPending` past them.
    @inline(never)
    mutating func closePending(upTo live: Int) {
        var p = firstPending
        while p < live {
            let slot = tables.ring[p & Scanner.ringMask]
            if slot.allowSpan >= 0, p &+ Int(slot.allowSpan) > allowReach { allowReach = p &+ Int(slot.allowSpan) }
            if slot.bestSpan >= 0, p >= cursor {
                let bestEnd = p &+ Int(slot.bestSpan)
                if allowReach < bestEnd {
                    commit(RawMatch(
                        start: tables.ringStart[p & Scanner.ringMask], end: tables.ringEnd[bestEnd & Scanner.ringMask],
                        pattern: slot.pattern))
                    cursor = bestEnd &+ 1
                }
            }
            p &+= 1
        }
        firstPending = lastPending >= live ? live : Int.max
    }

    @inline(__always)
    mutating func commit(_ match: RawMatch) {
        if mode == .collect {
            if count == rawCapacity { growRaw() }
            raw[count] = match
        }
        count &+= 1
    }

    /// Moves the recorded matches to a heap buffer twice the size (freeing the previous one if it was ours).
    @inline(never)
    mutating func growRaw() {
        let capacity = max(rawCapacity * 2, 16)
        let grown = UnsafeMutablePointer<RawMatch>.allocate(capacity: capacity)
        grown.moveInitialize(from: raw, count: count)
        if rawIsHeap { raw.deallocate() }
        raw = grown
        rawCapacity = capacity
        rawIsHeap = true
    }

    @inline(__always)
    static func isASCIIWord(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A)
    }

    @inline(__always)
    func decode(at i: Int) -> (UInt32, Int) {
        let b0 = UInt32(text[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(text[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(text[i + 1] & 0x3F) << 6 | UInt32(text[i + 2] & 0x3F), 3)
        }
        return (
            (b0 & 0x07) << 18 | UInt32(text[i + 1] & 0x3F) << 12 | UInt32(text[i + 2] & 0x3F) << 6 | UInt32(text[i + 3] & 0x3F), 4
        )
    }

    /// Whether the text before `start` (skipping invisible characters) does not continue a Latin word.
    func leftBoundaryOK(_ start: Int) -> Bool {
        if start > 0, text[start - 1] < 0x80 { return !Scanner.isASCIIWord(text[start - 1]) }
        var i = start
        while i > 0 {
            var k = i - 1
            while k > 0, text[k] & 0xC0 == 0x80 { k -= 1 }
            let info = filter.scalarInfo(decode(at: k).0)
            switch info.kind {
            case 1: i = k
            case 2: return true
            default: return !info.isWord
            }
        }
        return true
    }

    /// Whether the text after `end` (skipping invisible characters, and repeats that will be folded into the
    /// last position) does not continue a Latin word.
    func rightBoundaryOK(_ end: Int, state: Int32, prevSym: UInt16) -> Bool {
        if end < n, text[end] < 0x80, !tables.repeats || UInt16(truncatingIfNeeded: tables.bmp[Int(text[end])]) != prevSym { return !Scanner.isASCIIWord(text[end]) }
        var i = end
        while i < n {
            let (v, length) = decode(at: i)
            let info = filter.scalarInfo(v)
            switch info.kind {
            case 1:
                i += length
            case 2:
                return true
            default:
                if tables.repeats, info.kind == 0, state != 0, info.symbol == prevSym, tables.child(state, prevSym) < 0 {
                    i += length
                    continue
                }
                return !info.isWord
            }
        }
        return true
    }
}
