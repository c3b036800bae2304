import SQLKit
import Synchronization

/// A statement with many binds (multi-row inserts, long IN lists), built by appending text and values.
///
/// SQLKit's interpolated `SQLQueryString` boxes every bind as a fragment of its own, joins row strings by copying
/// fragment arrays, then walks every fragment again to serialize: under a steady stream of sends that was ~8% of
/// the server's CPU, most of it inside the one SQLite writer's turn. Here the text is written once, with a marker
/// where each bind goes, and the dialect's placeholders replace the markers when the statement is serialized (Parley's
/// SQLite driver skips the serializer and binds `values` directly).
public struct BulkSQL: SQLExpression {
    /// Stands for a bind in `text`; SQL text never contains NUL.
    private static let marker: UInt8 = 0

    /// UTF-8 bytes (appending to a byte array is much cheaper than to a String, one character at a time).
    private var text: [UInt8] = []
    /// The bound values, in order.
    private(set) var values: [BindValue] = []

    public init(_ text: String = "") {
        self.text.reserveCapacity(max(256, text.utf8.count * 2))
        self.text.append(contentsOf: text.utf8)
    }

    public mutating func append(_ sql: String) {
        text.append(contentsOf: sql.utf8)
    }

    /// Appends a placeholder for `value`.
    public mutating func bind(_ value: some SQLBindConvertible) {
        text.append(Self.marker)
        values.append(value.bindValue)
    }

    /// Appends `(?, ?, ...)` for one row's values.
    public mutating func row(_ row: [any SQLBindConvertible]) {
        text.append(UInt8(ascii: "("))
        for (index, value) in row.enumerated() {
            if index > 0 { text.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
            text.append(Self.marker)
            values.append(value.bindValue)
        }
        text.append(UInt8(ascii: ")"))
    }

    /// Appends `v1, v2, ...` as placeholders (for an IN list).
    public mutating func list(_ list: [some SQLBindConvertible]) {
        for (index, value) in list.enumerated() {
            if index > 0 { text.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
            bind(value)
        }
    }

    /// `left` followed by `right` (text and binds).
    public static func + (left: BulkSQL, right: BulkSQL) -> BulkSQL {
        var joined = left
        joined.text += right.text
        joined.values += right.values
        return joined
    }

    public static func + (left: BulkSQL, right: String) -> BulkSQL {
        var joined = left
        joined.text.append(contentsOf: right.utf8)
        return joined
    }

    /// The text with SQLite's placeholders: a bare `?` is numbered one past the highest index so far, so it is
    /// positional whatever came before it. Parley's SQLite driver runs a BulkSQL from this and `values` directly,
    /// without SQLKit's serializer.
    var sqliteText: String {
        String(unsafeUninitializedCapacity: text.count) { buffer in
            for (index, byte) in text.enumerated() { buffer[index] = byte == Self.marker ? UInt8(ascii: "?") : byte }
            return text.count
        }
    }

    public func serialize(to serializer: inout SQLSerializer) {
        if serializer.dialect.name == "sqlite" {
            serializer.write(sqliteText)
        } else {
            var rendered: [UInt8] = []
            rendered.reserveCapacity(text.count + values.count * 4)
            var index = serializer.binds.count
            for byte in text {
                if byte == Self.marker {
                    index += 1
                    rendered.append(UInt8(ascii: "$"))
                    rendered.append(contentsOf: String(index).utf8)
                } else {
                    rendered.append(byte)
                }
            }
            serializer.write(String(decoding: rendered, as: UTF8.self))
        }
        serializer.binds += values.map { $0 as any Encodable & Sendable }
    }
}

extension SQLDatabase {
    /// Runs `statement`, ignoring any rows.
    public func run(_ statement: BulkSQL) async throws {
        try await execute(sql: statement) { _ in }
    }

    /// Runs `statement` and returns its rows.
    public func all(_ statement: BulkSQL) async throws -> [any SQLRow] {
        let rows = Mutex<[any SQLRow]>([])
        try await execute(sql: statement) { row in rows.withLock { $0.append(row) } }
        return rows.withLock { $0 }
    }
}

/// A bound value with its type known when it was bound: the SQLite driver takes it without the dynamic casts (and,
/// for `nil`, the generic encoder) an arbitrary `Encodable` needs, ~2.5% of a send's CPU when every bind went that way.
public enum BindValue: Encodable, Sendable {
    case text(String)
    case integer(Int64)
    case real(Double)
    case bool(Bool)
    case null

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .integer(let number): try container.encode(number)
        case .real(let number): try container.encode(number)
        case .bool(let flag): try container.encode(flag)
        case .null: try container.encodeNil()
        }
    }
}

/// The types BulkSQL binds.
public protocol SQLBindConvertible: Sendable {
    var bindValue: BindValue { get }
}

extension String: SQLBindConvertible { public var bindValue: BindValue { .text(self) } }
extension Int: SQLBindConvertible { public var bindValue: BindValue { .integer(Int64(self)) } }
extension Int64: SQLBindConvertible { public var bindValue: BindValue { .integer(self) } }
extension Double: SQLBindConvertible { public var bindValue: BindValue { .real(self) } }
extension Bool: SQLBindConvertible { public var bindValue: BindValue { .bool(self) } }
extension Optional: SQLBindConvertible where Wrapped: SQLBindConvertible {
    public var bindValue: BindValue { self?.bindValue ?? .null }
}
