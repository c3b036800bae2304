/// The proxies in front of Parley whose `Forwarded` (RFC 7239) or `X-Forwarded-For` is believed
/// (`PARLEY_TRUSTED_PROXIES`).
///
/// Behind a load balancer every connection comes from the balancer's address, and rate limits by address (every
/// WebSocket connect counts as a login) would then count the whole user base as one client. When the socket's peer
/// is a trusted proxy, the client is the right-most forwarded address that is not a trusted proxy (each proxy
/// appends the address it saw; the left part is whatever the client claimed and is never believed on its own).
/// A request with a `Forwarded` header is read from it alone (its `for=` parameters); `X-Forwarded-For` is read
/// only without one, as a chain is written in one of the two.
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

    /// The client's address: `peer` itself unless it is a trusted proxy; then the right-most forwarded address (in
    /// header order: the `for=` of each `Forwarded` element if there is any such header, else the `X-Forwarded-For`
    /// values) that is not a trusted proxy, or `peer` when a hop there is not an address at all (`unknown`, an
    /// obfuscated identifier, garbage).
    public func clientAddress(peer: String?, forwarded: [String] = [], forwardedFor: [String]) -> String? {
        guard let peer, !ranges.isEmpty, contains(peer) else { return peer }
        let hops = forwarded.isEmpty
            ? forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
            : forwarded.flatMap(Self.forwardedHops)
        var client = peer
        for hop in hops.reversed() {
            guard let bytes = IPAddress.bytes(hop) else { return peer }
            client = hop
            if !contains(bytes) { break }
        }
        return client
    }

    /// The `for=` value of each element of one `Forwarded` header (RFC 7239 §4), as a bare address: quotes, the
    /// brackets of an IPv6 address and a port are removed. An element without `for=` gives an empty hop (not an
    /// address), so the chain is not believed past it.
    static func forwardedHops(_ header: String) -> [String] {
        splitOutsideQuotes(header, on: ",").map { element in
            for pair in splitOutsideQuotes(element, on: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, parts[0].lowercased() == "for" else { continue }
                var value = Substring(parts[1])
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
                if value.hasPrefix("[") {
                    // "[2001:db8::1]:4711" or "[2001:db8::1]"
                    guard let close = value.firstIndex(of: "]") else { return "" }
                    return String(value[value.index(after: value.startIndex)..<close])
                }
                // "192.0.2.43:47011": one colon is a port (an IPv6 address must be bracketed here).
                if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") { value = value[..<colon] }
                return String(value)
            }
            return ""
        }
    }

    /// Splits on `separator` where it is not inside a quoted string (quoted-string values may hold `,` and `;`).
    private static func splitOutsideQuotes(_ text: some StringProtocol, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
            } else if quoted, character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == separator, !quoted {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            }
            current.append(character)
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts
    }
}

/// An entry of a trusted-proxy list that is neither an address nor a CIDR range.
public struct TrustedProxiesError: Error, CustomStringConvertible {
    public let item: String
    public var description: String { "'\(item)' is not an IP address or CIDR range" }
}
