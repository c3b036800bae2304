import Hummingbird
import NIOCore
import ParleyCore

/// Health, readiness, metrics and the API description.
public struct SystemController: Sendable {
    let isReady: @Sendable () async -> Bool
    let metrics: HTTPMetrics
    let openAPI: @Sendable () -> String

    public init(isReady: @escaping @Sendable () async -> Bool, metrics: HTTPMetrics, openAPI: @escaping @Sendable () -> String) {
        self.isReady = isReady
        self.metrics = metrics
        self.openAPI = openAPI
    }

    struct Status: Encodable {
        let status: String
    }

    public func register(on routes: RouteTable) {
        routes.add(.get, "/healthz", policy: .anonymous) { _, _ in
            try JSONBody.response(Status(status: "ok"))
        }
        routes.add(.get, "/readyz", policy: .anonymous) { _, _ in
            guard await isReady() else {
                throw ParleyError(.unavailable, code: "system.not_ready", message: "The database does not answer.", retryAfter: 1)
            }
            return try JSONBody.response(Status(status: "ready"))
        }
        routes.add(.get, "/metrics", policy: .anonymous) { _, _ in
            Self.text(metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        routes.add(.get, "/v1/ws", policy: .anonymous) { _, _ in
            // Reached only by requests without a WebSocket upgrade; upgrades go to the gateway.
            throw ParleyError(.badRequest, code: "gateway.upgrade_required",
                              message: "GET /v1/ws is the WebSocket gateway: connect with a WebSocket client (see docs/protocol.md).")
        }
        routes.add(.get, "/v1/openapi.json", policy: .anonymous) { _, _ in
            Self.text(openAPI(), contentType: "application/json; charset=utf-8")
        }
    }

    static func text(_ body: String, contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
