import Foundation
import Hummingbird
import Logging

/// Logs one structured line per request and records it in the HTTP metrics.
///
/// It sits outside the error middleware, so it sees the final status of every request, errors included.
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = ParleyRequestContext
    let metrics: HTTPMetrics

    public init(metrics: HTTPMetrics) {
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let route = context.endpointPath ?? "unmatched"
        metrics.record(method: request.method.rawValue, route: route, status: Int(response.status.code), seconds: seconds)
        context.logger.info("request", metadata: [
            "method": .string(request.method.rawValue),
            "path": .string(request.uri.path),
            "route": .string(route),
            "status": .stringConvertible(response.status.code),
            "duration_ms": .string(String(format: "%.3f", seconds * 1000)),
            "principal": .string(context.observed.principal ?? "anonymous"),
        ])
        return response
    }
}
