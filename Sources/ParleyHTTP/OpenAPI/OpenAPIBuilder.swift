import Foundation
import ParleyCore

/// A small builder for the OpenAPI 3.1 document: each controller's routes are described by `Operation`
/// values in the `OpenAPISpec+*.swift` files, apart from the code that registers them, so a test can
/// compare the two and fail when a route is undocumented.
public struct OpenAPIOperation: Sendable {
    public enum Security: String, Sendable {
        case none, apiKey, userToken, either
    }

    public var method: String
    public var path: String
    public var summary: String
    public var tag: String
    public var security: Security
    public var requestSchema: String?
    public var queryParameters: [(name: String, type: String, description: String)]
    public var responses: [(status: Int, description: String, schema: String?)]

    public init(
        _ method: String, _ path: String, tag: String, summary: String, security: Security,
        request: String? = nil, query: [(name: String, type: String, description: String)] = [],
        responses: [(status: Int, description: String, schema: String?)]
    ) {
        self.method = method
        self.path = path
        self.tag = tag
        self.summary = summary
        self.security = security
        self.requestSchema = request
        self.queryParameters = query
        self.responses = responses
    }
}

public struct OpenAPIBuilder: Sendable {
    public var operations: [OpenAPIOperation] = []
    public var schemas: [String: JSONValue] = [:]

    public init() {}

    public mutating func add(_ operations: [OpenAPIOperation], schemas: [String: JSONValue]) {
        self.operations += operations
        self.schemas.merge(schemas) { _, new in new }
    }

    public func document(version: String) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        for operation in operations {
            var entry: [String: JSONValue] = [
                "summary": .string(operation.summary),
                "tags": .array([.string(operation.tag)]),
                "operationId": .string(operationID(operation)),
            ]
            var parameters: [JSONValue] = operation.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { segment in
                .object([
                    "name": .string(String(segment.dropFirst().dropLast())), "in": "path", "required": true,
                    "schema": .object(["type": "string"]),
                ])
            }
            for query in operation.queryParameters {
                parameters.append(.object([
                    "name": .string(query.name), "in": "query", "required": false, "description": .string(query.description),
                    "schema": .object(["type": .string(query.type)]),
                ]))
            }
            if !parameters.isEmpty { entry["parameters"] = .array(parameters) }
            switch operation.security {
            case .none: entry["security"] = .array([])
            case .apiKey: entry["security"] = .array([.object(["apiKey": .array([])])])
            case .userToken: entry["security"] = .array([.object(["userToken": .array([])])])
            case .either: entry["security"] = .array([.object(["userToken": .array([])]), .object(["apiKey": .array([])])])
            }
            if let request = operation.requestSchema {
                entry["requestBody"] = .object([
                    "required": true,
                    "content": .object(["application/json": .object(["schema": ref(request)])]),
                ])
            }
            var responses: [String: JSONValue] = [:]
            for response in operation.responses {
                var body: [String: JSONValue] = ["description": .string(response.description)]
                if let schema = response.schema {
                    body["content"] = .object(["application/json": .object(["schema": ref(schema)])])
                }
                responses[String(response.status)] = .object(body)
            }
            responses["default"] = .object([
                "description": "An error: a stable dotted code, a message and details.",
                "content": .object(["application/json": .object(["schema": ref("Error")])]),
            ])
            entry["responses"] = .object(responses)
            var pathItem = paths[operation.path]?.objectValue ?? [:]
            pathItem[operation.method.lowercased()] = .object(entry)
            paths[operation.path] = .object(pathItem)
        }
        return .object([
            "openapi": "3.1.0",
            "info": .object([
                "title": "Parley",
                "version": .string(version),
                "description": "Parley's HTTP API. Errors are {\"error\": {\"code\", \"message\", \"details\"}} with stable dotted codes.",
            ]),
            "paths": .object(paths),
            "components": .object([
                "securitySchemes": .object([
                    "apiKey": .object(["type": "http", "scheme": "bearer", "description": "An API key (prly_...) with scope server or admin."]),
                    "userToken": .object(["type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A user token."]),
                ]),
                "schemas": .object(schemas),
            ]),
        ])
    }

    func ref(_ name: String) -> JSONValue {
        .object(["$ref": .string("#/components/schemas/\(name)")])
    }

    func operationID(_ operation: OpenAPIOperation) -> String {
        let words = operation.path.split(separator: "/").map { segment in
            segment.hasPrefix("{") ? "By" + segment.dropFirst().dropLast().capitalized.replacingOccurrences(of: "_", with: "") :
                segment.replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: ".", with: "_").capitalized
                .replacingOccurrences(of: "_", with: "")
        }
        return operation.method.lowercased() + words.joined()
    }
}

/// Schema helpers that keep the spec files short.
public enum Schema {
    public static func object(_ properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        .object([
            "type": "object",
            "properties": .object(properties),
            "required": .array(required.map { .string($0) }),
        ])
    }

    public static let string: JSONValue = .object(["type": "string"])
    public static let nullableString: JSONValue = .object(["type": .array(["string", "null"])])
    public static let integer: JSONValue = .object(["type": "integer"])
    public static let boolean: JSONValue = .object(["type": "boolean"])
    public static let timestamp: JSONValue = .object(["type": "string", "format": "date-time"])
    public static let anyObject: JSONValue = .object(["type": "object", "additionalProperties": true])
    public static let anyValue: JSONValue = .object([:])

    public static func array(_ items: JSONValue) -> JSONValue {
        .object(["type": "array", "items": items])
    }

    public static func ref(_ name: String) -> JSONValue {
        .object(["$ref": .string("#/components/schemas/\(name)")])
    }

    public static func enumeration(_ values: [String]) -> JSONValue {
        .object(["type": "string", "enum": .array(values.map { .string($0) })])
    }
}
