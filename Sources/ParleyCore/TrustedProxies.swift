/// The proxies in front of Parley whose `X-Forwarded-For` is believed (`PARLEY_TRUSTED_PROXIES`).
///
/// Behind a load balancer every connection comes from the balancer's address, and rate limits by address (every
/// WebSocket connect counts as a login) would then count the whole user base as one client. When the socket's peer
/// is a trusted proxy, the client is the right-most `X-Forwarded-For` address that is not a trusted proxy (each
/// proxy appends the address it saw; the left part is whatever the client claimed and is never believed on its own).
public struct TrustedProxies: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        let bytes: [UInt8]
        let prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefixLength
            for (index, byte) in bytes.enumerated() where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
                if address[index] & mask != byte & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    let ranges: [Range]

    /// Trusts nobody: the socket's peer is the client.
    public init() {
        ranges = []
    }

    /// Addresses and CIDR ranges separated by commas: `10.0.0.0/8, 127.0.0.1, fd00::/8`.
    public init(parsing text: String) throws(TrustedProxiesError) {
        var ranges: [Range] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = IPAddress.bytes(parts[0]) else { throw TrustedProxiesError(item: item) }
            var prefixLength = bytes.count * 8
            if parts.count == 2 {
                guard let length = Int(parts[1]), (0...bytes.count * 8).contains(length) else { throw TrustedProxiesError(item: item) }
                prefixLength = length
            }
            ranges.append(Range(bytes: bytes, prefixLength: prefixLength))
        }
        self.ranges = ranges
    }

    public var isEmpty: Bool { ranges.isEmpty }

    public func contains(_ address: String) -> Bool {
        IPAddress.bytes(address).map(contains) ?? false
    }

    private func contains(_ bytes: [UInt8]) -> Bool {
        ranges.contains { $0.contains(bytes) }
    }

    /// The client's address: `peer` itself unless it is a trusted proxy; then the right-most address of the
    /// `X-Forwarded-For` values (in header order) that is not a trusted proxy, or `peer` when an entry there is
    /// not an address at all.
    public func clientAddress(peer: String?, forwardedFor: [String]) -> String? {
        guard let peer, !ranges.isEmpty, contains(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        var client = peer
        for hop in hops.reversed() {
            guard let bytes = IPAddress.bytes(hop) else { return peer }
            client = hop
            if !contains(bytes) { break }
        }
        return client
    }
}

/// An entry of a trusted-proxy list that is neither an address nor a CIDR range.
public struct TrustedProxiesError: Error, CustomStringConvertible {
    public let item: String
    public var description: String { "'\(item)' is not an IP address or CIDR range" }
}
