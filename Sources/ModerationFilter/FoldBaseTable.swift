import Synchronization

/// Per-scalar fold results for the BMP and for the astral window U+1D000…U+1FBFF (mathematical letters,
/// enclosed letters, emoji), computed once per set of options and shared by every compiled filter.
///
/// Each entry is `kind << 24 | folded scalar` with kind 0 = one scalar, 1 = ignorable, 2 = noise,
/// 3 = slow path (expands to two scalars).
final class FoldBaseTable: @unchecked Sendable {  // immutable after init
    static let kindShift: UInt32 = 24
    static let scalarMask: UInt32 = 0x00FF_FFFF
    static let astralStart: UInt32 = 0x1D000
    static let astralEnd: UInt32 = 0x1FC00

    let bmp: [UInt32]
    let astral: [UInt32]
    /// Per scalar: the folds that fire (bits 0…9), the kind (bits 10…11, as in `bmp`) and whether the folded
    /// scalar is a word character (bit 15). Raw storage, allocated once and never freed while cached.
    let bmpInfo: UnsafeMutablePointer<UInt16>
    let astralInfo: UnsafeMutablePointer<UInt16>

    static let wordBit: UInt16 = 0x8000

    init(folder: ScalarFolder) {
        let astralCount = Int(Self.astralEnd - Self.astralStart)
        var bmp = [UInt32](repeating: 0, count: 0x10000)
        var astral = [UInt32](repeating: 0, count: astralCount)
        let bmpInfo = UnsafeMutablePointer<UInt16>.allocate(capacity: 0x10000)
        let astralInfo = UnsafeMutablePointer<UInt16>.allocate(capacity: astralCount)
        // One fold per scalar gives both the entry and the info word.
        func describe(_ v: UInt32) -> (entry: UInt32, info: UInt16) {
            let outcome = folder.fold(v)
            var info = outcome.fired.rawValue
            switch outcome.kind {
            case .ignorable:
                return (1 << Self.kindShift, info | 1 << 10)
            case .noise:
                return (2 << Self.kindShift | outcome.first, info | 2 << 10)
            case .scalars:
                if ScalarFolder.isWordScalar(outcome.first) { info |= Self.wordBit }
                if outcome.second != 0 { return (3 << Self.kindShift, info | 3 << 10) }
                return (outcome.first, info)
            }
        }
        for v in UInt32(0)..<0x10000 {
            if (0xD800...0xDFFF).contains(v) {
                bmpInfo[Int(v)] = 0
                continue
            }
            let (entry, info) = describe(v)
            bmp[Int(v)] = entry
            bmpInfo[Int(v)] = info
        }
        for v in Self.astralStart..<Self.astralEnd {
            let (entry, info) = describe(v)
            astral[Int(v - Self.astralStart)] = entry
            astralInfo[Int(v - Self.astralStart)] = info
        }
        self.bmp = bmp
        self.astral = astral
        self.bmpInfo = bmpInfo
        self.astralInfo = astralInfo
    }

    deinit {
        bmpInfo.deallocate()
        astralInfo.deallocate()
    }

    private struct Key: Hashable {
        var folds: FoldSet
        var noise: Set<UInt32>
    }

    private static let cache = Mutex<[Key: FoldBaseTable]>([:])

    static func shared(for folder: ScalarFolder) -> FoldBaseTable {
        let key = Key(folds: folder.folds, noise: folder.folds.contains(.noise) ? folder.noise : [])
        if let table = cache.withLock({ $0[key] }) { return table }
        let table = FoldBaseTable(folder: folder)
        cache.withLock { cache in
            if cache.count >= 8 { cache.removeAll() }
            cache[key] = table
        }
        return table
    }
}
