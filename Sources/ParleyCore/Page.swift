import Foundation

/// One page of a cursor-paginated list. `nextCursor` is nil on the last page.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    /// A page from rows fetched with `LIMIT limit + 1`: the extra row only says there is more, and the
    /// next cursor is the position of the last row kept.
    public init(fetched rows: [Item], limit: Int, position: (Item) -> String) {
        if rows.count > limit {
            let kept = Array(rows.prefix(limit))
            self.init(items: kept, nextCursor: kept.last.map { Cursor.encode(position($0)) })
        } else {
            self.init(items: rows, nextCursor: nil)
        }
    }
}

/// How much of a list to read: a validated limit and an optional opaque cursor.
public struct PageRequest: Sendable, Equatable {
    public static let defaultLimit = 50
    public static let maxLimit = 200

    public let limit: Int
    public let cursor: String?

    public init(limit: Int = PageRequest.defaultLimit, cursor: String? = nil) throws(ParleyError) {
        guard (1...PageRequest.maxLimit).contains(limit) else {
            throw ParleyError.invalidParameter("limit", "must be between 1 and \(PageRequest.maxLimit)")
        }
        self.limit = limit
        self.cursor = cursor
    }
}

/// Opaque cursors: the position a list stopped at, base64url-encoded so clients cannot depend on its shape.
public enum Cursor {
    public static func encode(_ position: String) -> String {
        Data(position.utf8).base64URLEncodedString()
    }

    public static func decode(_ cursor: String) throws(ParleyError) -> String {
        guard let data = Data(base64URLEncoded: cursor), let position = String(data: data, encoding: .utf8) else {
            throw ParleyError.invalidCursor()
        }
        return position
    }
}

extension Data {
    /// Base64url without padding (RFC 4648 §5), as JWTs and cursors use it.
    public func base64URLEncodedString() -> String {
        base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public init?(base64URLEncoded text: String) {
        guard text.utf8.allSatisfy({ byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let remainder = base64.utf8.count % 4
        if remainder == 1 { return nil }
        if remainder > 0 { base64 += String(repeating: "=", count: 4 - remainder) }
        self.init(base64Encoded: base64)
    }
}
