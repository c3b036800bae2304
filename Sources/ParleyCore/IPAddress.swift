import Foundation

/// IP addresses written as text, parsed without a network library.
public enum IPAddress {
    /// The address's bytes: 4 for IPv4 (and IPv4-mapped IPv6, `::ffff:1.2.3.4`), 16 for IPv6; nil when `text` is not
    /// an address. Brackets and zone ids (`[fe80::1%eth0]`) are ignored.
    public static func bytes(_ text: String) -> [UInt8]? {
        var text = text.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { text = String(text[text.index(after: text.startIndex)..<close]) }
        if let zone = text.firstIndex(of: "%") { text = String(text[..<zone]) }
        if let v4 = ipv4(text) { return v4 }
        guard let groups = ipv6(text) else { return nil }
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xffff {
            return [UInt8(groups[6] >> 8), UInt8(groups[6] & 0xff), UInt8(groups[7] >> 8), UInt8(groups[7] & 0xff)]
        }
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// The four bytes of a dotted-quad IPv4 address.
    public static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// The eight groups of an IPv6 address (`::` and a trailing dotted quad allowed).
    public static func ipv6(_ text: String) -> [UInt16]? {
        guard text.contains(":"), text.count <= 45 else { return nil }
        var text = text
        var tail: [UInt16] = []
        // A trailing dotted quad fills the last two groups.
        if let lastColon = text.lastIndex(of: ":"), text[lastColon...].contains(".") {
            guard let v4 = ipv4(String(text[text.index(after: lastColon)...])) else { return nil }
            tail = [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
            text = String(text[...lastColon])
            if text.hasSuffix(":") && !text.hasSuffix("::") { text.removeLast() }
        }
        func groups(_ part: Substring) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            var result: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4, let value = UInt16(group, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }
        let halves = text.components(separatedBy: "::")
        var all: [UInt16]
        switch halves.count {
        case 1:
            guard let full = groups(Substring(halves[0])) else { return nil }
            all = full + tail
            guard all.count == 8 else { return nil }
        case 2:
            guard let head = groups(Substring(halves[0])), let rest = groups(Substring(halves[1])) else { return nil }
            let known = head.count + rest.count + tail.count
            guard known <= 7 else { return nil }
            all = head + Array(repeating: 0, count: 8 - known) + rest + tail
        default:
            return nil
        }
        return all
    }
}
