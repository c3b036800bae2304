/// A user's id: an opaque string chosen by the platform.
///
/// 1 to 128 characters of ASCII letters, digits, `_`, `-`, `.`, `@` and `:`. The restriction keeps ids safe
/// in URLs, logs and SQL without escaping, while leaving room for the platform's own formats
/// (`u_123`, `alice@example.com`, `tenant:42`).
public struct UserID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public static let maxLength = 128

    /// Validates `rawValue`; throws `identity.invalid_user_id` when it breaks the rules.
    public init(validating rawValue: String) throws(ParleyError) {
        guard UserID.isValid(rawValue) else { throw ParleyError.invalidUserID(rawValue) }
        self.rawValue = rawValue
    }

    /// For values read back from the database, which were validated on the way in.
    public init(trusted rawValue: String) {
        self.rawValue = rawValue
    }

    public static func isValid(_ candidate: String) -> Bool {
        let bytes = candidate.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "@"), UInt8(ascii: ":"):
                return true
            default:
                return false
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(validating: raw)
        } catch {
            throw error
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: UserID, rhs: UserID) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension ParleyError {
    public static func invalidUserID(_ raw: String) -> ParleyError {
        ParleyError(
            .badRequest, code: "identity.invalid_user_id",
            message: "A user id is 1 to 128 characters of letters, digits, '_', '-', '.', '@' and ':'.",
            details: ["user_id": .string(String(raw.prefix(200)))]
        )
    }
}
