import HTTPTypes
import Hummingbird
import ParleyCore

extension HTTPField.Name {
    public static let requestID = HTTPField.Name("X-Request-Id")!
}

/// Gives every request an id: the caller's `X-Request-Id` when it is sane, else a new one; echoed on the response.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = ParleyRequestContext
    let ids: any IDGenerator

    public init(ids: any IDGenerator) {
        self.ids = ids
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let supplied = request.headers[.requestID], Self.isAcceptable(supplied) {
            context.requestID = supplied
        } else {
            context.requestID = ids.next(prefix: "req_")
        }
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        var response = try await next(request, context)
        response.headers[.requestID] = context.requestID
        return response
    }

    /// Up to 128 characters of letters, digits and `-_.:`, so a caller cannot inject into logs.
    static func isAcceptable(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 128 && value.utf8.allSatisfy { byte in
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
        }
    }
}
