import Foundation

/// An HTTP request Parley makes to the outside world (webhooks, hooks, push providers).
public struct OutboundRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data
    public var timeout: Duration

    public init(method: String = "POST", url: String, headers: [(String, String)], body: Data, timeout: Duration) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct OutboundResponse: Sendable {
    public var status: Int
    public var body: Data

    public init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }
}

/// The seam through which contexts call other servers, so they never import an HTTP client.
/// Implementations throw on connection failures and timeouts; any HTTP status is a response.
public protocol OutboundHTTP: Sendable {
    func send(_ request: OutboundRequest) async throws -> OutboundResponse
}
