import Foundation
import ParleyCore
import SQLKit

extension SQLRow {
    /// Decodes a column that may be NULL.
    public func decodeOptional<T: Decodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        if try decodeNil(column: column) { return nil }
        return try decode(column: column, as: T.self)
    }

    /// Decodes a Unix-milliseconds column into a `Date`.
    public func decodeDate(_ column: String) throws -> Date {
        Date(unixMilliseconds: try decode(column: column, as: Int64.self))
    }

    public func decodeOptionalDate(_ column: String) throws -> Date? {
        try decodeOptional(column, as: Int64.self).map(Date.init(unixMilliseconds:))
    }

    /// Decodes a JSON document stored as TEXT.
    public func decodeJSON(_ column: String) throws -> JSONValue {
        try JSONValue(parsing: try decode(column: column, as: String.self))
    }
}

extension JSONValue {
    /// The compact JSON text stored in TEXT columns: sorted keys, as `JSONEncoder` writes it (`jsonString()`).
    /// Still `throws` for its many callers; it no longer fails (a non-finite double is written as null).
    public func jsonText() throws -> String {
        jsonString()
    }
}
