/// The layout of one double-array slot: 12 bytes, stored as parallel arrays (structure of arrays); `hot`
/// and `check` share one 32-bit word.
///
/// * `base: Int32`: children of this state live at `base + label`; `leafBase` for leaves (never in range).
/// * `check: UInt16`: the label on the edge into this slot (0 = empty slot or root). Bases are unique, so
///   slot `t = base[s] + a` is a child of `s` iff `check[t] == a`.
/// * `hot: UInt16`: bits 0…12 a Bloom filter over the child labels (bit `label & 15`; labels skip the values
///   whose low four bits are 13…15, see `CompiledFilter.label(number:)`), bit 13 terminal
///   (a word ends here), bit 14 has a dictionary-suffix link, bit 15 the failure link is the root.
/// * `failDepth: UInt32`: bits 0…23 the Aho-Corasick failure link, bits 24…30 the depth.
///
/// The scanner reads only `hot` for most characters: a transition out of a non-root state usually fails,
/// and the filter answers that without touching `base`/`check`; the root's transitions use a dense table.
enum DoubleArrayLayout {
    static let bloomMask: UInt16 = 0x1FFF
    static let terminal: UInt16 = 1 << 13
    static let hasDictLink: UInt16 = 1 << 14
    static let failIsRoot: UInt16 = 1 << 15
    static let outputMask: UInt16 = terminal | hasDictLink
    static let leafBase = Int32.min
    static let maxSlots = 1 << 24
    static let depthShift: UInt32 = 24

    @inline(__always)
    static func bloomBit(_ label: UInt16) -> UInt16 { 1 << (label & 15) }  // labels never have a low nibble above 12

    static func bloom(of labels: some Sequence<UInt16>) -> UInt16 {
        var bits: UInt16 = 0
        for a in labels { bits |= bloomBit(a) }
        return bits
    }
}
