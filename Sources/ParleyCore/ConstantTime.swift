/// Compares two secrets (MACs, hashes) in time that depends only on their length, not on where they
/// differ, so a caller cannot learn a valid value byte by byte from response times.
public func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
    let left = Array(lhs.utf8), right = Array(rhs.utf8)
    guard left.count == right.count else { return false }
    return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
}
