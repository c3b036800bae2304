import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParleyCore

/// A request body type: decodable, and naming the fields it accepts so unknown fields are refused
/// instead of silently ignored (a typo in an optional field should not pass unnoticed).
public protocol RequestBody: Decodable, Sendable {
    static var fields: Set<String> { get }
}

extension Request {
    /// Reads and decodes a JSON object body, turning every failure into a `request.*` error.
    public func decodeBody<Body: RequestBody>(_ type: Body.Type, context: ParleyRequestContext) async throws -> Body {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxUploadSize)
        } catch {
            throw ParleyError.bodyTooLarge(limit: context.maxUploadSize)
        }
        return try JSONBody.decode(Body.self, from: Data(buffer: buffer))
    }
}

public enum JSONBody {
    /// Decodes `data` as `Body`, refusing non-objects, unknown fields, wrong types and missing fields.
    public static func decode<Body: RequestBody>(_ type: Body.Type, from data: Data) throws -> Body {
        guard !data.isEmpty else { throw ParleyError.malformedJSON("the body is empty") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw ParleyError.malformedJSON("it does not parse")
        }
        guard let dictionary = object as? [String: Any] else { throw ParleyError.malformedJSON("the body must be a JSON object") }
        if let unknown = dictionary.keys.sorted().first(where: { !Body.fields.contains($0) }) {
            throw ParleyError.unknownField(unknown)
        }
        do {
            return try JSONDecoder().decode(Body.self, from: data)
        } catch let error as DecodingError {
            throw ParleyError(decoding: error)
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A JSON response with `status`.
    public static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension ParleyError {
    /// Maps Swift's decoding errors to stable request error codes naming the offending field.
    init(decoding error: DecodingError) {
        func path(_ context: DecodingError.Context, appending key: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            let joined = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return joined.replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            self = .missingField(path(context, appending: key))
        case .valueNotFound(_, let context):
            self = .missingField(path(context))
        case .typeMismatch(let type, let context):
            self = .invalidField(path(context), "expected \(Self.jsonTypeName(type))")
        case .dataCorrupted(let context):
            self = context.codingPath.isEmpty ? .malformedJSON(context.debugDescription) : .invalidField(path(context), context.debugDescription)
        @unknown default:
            self = .malformedJSON("it does not match the expected shape")
        }
    }

    static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "a boolean"
        case is [Any].Type: "an array"
        default: type is any Collection.Type ? "an array" : "an object"
        }
    }

    public static func bodyTooLarge(limit: Int) -> ParleyError {
        ParleyError(.payloadTooLarge, code: "request.too_large", message: "The request body is larger than \(limit) bytes.",
                    details: ["limit": .int(limit)])
    }

    public static func routeNotFound() -> ParleyError {
        ParleyError(.notFound, code: "route.not_found", message: "No such route.")
    }
}

/// Reads query parameters with validation.
extension Request {
    public func pageRequest() throws(ParleyError) -> PageRequest {
        let limit: Int
        if let raw = uri.queryParameters["limit"] {
            guard let parsed = Int(String(raw)) else { throw ParleyError.invalidParameter("limit", "must be an integer") }
            limit = parsed
        } else {
            limit = PageRequest.defaultLimit
        }
        let cursor = uri.queryParameters["cursor"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        return try PageRequest(limit: limit, cursor: cursor)
    }
}

extension ParleyRequestContext {
    /// A path parameter that must be a valid user id.
    public func userIDParameter(_ name: String = "user_id") throws(ParleyError) -> UserID {
        guard let raw = parameters.get(name) else { throw ParleyError.invalidUserID("") }
        return try UserID(validating: raw)
    }
}
