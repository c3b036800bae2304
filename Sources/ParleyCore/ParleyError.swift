/// The one error type every Parley context throws.
///
/// A `ParleyError` carries a stable, dotted `code` (`messaging.not_member`) that clients may switch on,
/// a human `message`, an abstract `kind` that the HTTP and WebSocket transports map to a status, and
/// optional structured `details`. Contexts declare their errors as static factories in extensions,
/// so every code is written down once, next to the context that owns it.
public struct ParleyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in transport-neutral terms; the HTTP layer maps each kind to one status code.
    public enum Kind: String, Sendable, Equatable {
        case badRequest
        case unauthorized
        case forbidden
        case notFound
        case conflict
        case payloadTooLarge
        case unprocessable
        case rateLimited
        case unavailable
        case `internal`
    }

    public let kind: Kind
    public let code: String
    public let message: String
    public let details: [String: JSONValue]
    /// Seconds after which a retry may succeed (rate limits, temporary unavailability).
    public let retryAfter: Int?

    public init(_ kind: Kind, code: String, message: String, details: [String: JSONValue] = [:], retryAfter: Int? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code): \(message)" }
}

extension ParleyError {
    /// A failure of Parley's own (a bug or a broken invariant), told to the client without its details.
    public static let internalError = ParleyError(.internal, code: "internal.error", message: "Something went wrong on our side.")
}

// Errors about the shape of a request, shared by every context and transport.
extension ParleyError {
    public static func malformedJSON(_ reason: String) -> ParleyError {
        ParleyError(.badRequest, code: "request.malformed_json", message: "The request body is not valid JSON: \(reason)")
    }

    public static func invalidField(_ field: String, _ reason: String) -> ParleyError {
        ParleyError(.badRequest, code: "request.invalid_field", message: "Field '\(field)' is invalid: \(reason)",
                    details: ["field": .string(field)])
    }

    public static func missingField(_ field: String) -> ParleyError {
        ParleyError(.badRequest, code: "request.missing_field", message: "Field '\(field)' is required.",
                    details: ["field": .string(field)])
    }

    public static func unknownField(_ field: String) -> ParleyError {
        ParleyError(.badRequest, code: "request.unknown_field", message: "Field '\(field)' is not accepted here.",
                    details: ["field": .string(field)])
    }

    public static func fieldTooLong(_ field: String, limit: Int) -> ParleyError {
        ParleyError(.badRequest, code: "request.field_too_long", message: "Field '\(field)' is longer than \(limit).",
                    details: ["field": .string(field), "limit": .int(limit)])
    }

    public static func invalidParameter(_ name: String, _ reason: String) -> ParleyError {
        ParleyError(.badRequest, code: "request.invalid_parameter", message: "Parameter '\(name)' is invalid: \(reason)",
                    details: ["parameter": .string(name)])
    }

    public static func invalidCursor() -> ParleyError {
        ParleyError(.badRequest, code: "request.invalid_cursor", message: "The cursor is not one this server issued.")
    }
}
