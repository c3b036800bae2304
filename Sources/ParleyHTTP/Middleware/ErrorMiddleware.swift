import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ParleyCore

/// Turns every error into Parley's JSON error body, in exactly one place.
///
/// `ParleyError` maps by kind; Hummingbird's own errors (unknown route, body too large) map to their
/// `route.*` / `request.*` codes; anything else is a bug: 500 `internal.error`, logged with the request id.
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = ParleyRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ParleyError {
            return Self.response(for: error, requestID: context.requestID)
        } catch let error as HTTPError {
            let parleyError: ParleyError = switch error.status {
            case .notFound: .routeNotFound()
            case .contentTooLarge: .bodyTooLarge(limit: context.maxUploadSize)
            case .methodNotAllowed: ParleyError(.badRequest, code: "route.method_not_allowed", message: "Method not allowed here.")
            default: ParleyError(.badRequest, code: "request.invalid", message: error.body ?? "The request is invalid.")
            }
            return Self.response(for: parleyError, requestID: context.requestID)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))", "request_id": "\(context.requestID)"])
            return Self.response(
                for: ParleyError(.internal, code: "internal.error", message: "Something went wrong on our side; the request id identifies it in the logs."),
                requestID: context.requestID
            )
        }
    }

    public static func status(for kind: ParleyError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .unprocessable: .unprocessableContent
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .internal: .internalServerError
        }
    }

    /// The wire shape of an error: `{"error": {"code", "message", "details", "request_id"}}`.
    struct ErrorBody: Encodable {
        struct Inner: Encodable {
            let code: String
            let message: String
            let details: [String: JSONValue]
            let request_id: String?
        }
        let error: Inner
    }

    public static func response(for error: ParleyError, requestID: String?) -> Response {
        let body = ErrorBody(error: .init(code: error.code, message: error.message, details: error.details, request_id: requestID))
        var response = (try? JSONBody.response(body, status: status(for: error.kind)))
            ?? Response(status: status(for: error.kind))
        if let retryAfter = error.retryAfter {
            response.headers[.retryAfter] = String(retryAfter)
        }
        if error.kind == .unauthorized {
            response.headers[.wwwAuthenticate] = "Bearer"
        }
        return response
    }
}
