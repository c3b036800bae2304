import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ParleyCore

/// `OutboundHTTP` over AsyncHTTPClient's shared client (HTTP/1.1 and HTTP/2, TLS, pooled connections).
public struct AsyncHTTPOutbound: OutboundHTTP {
    /// Responses larger than this are cut off: Parley only reads small JSON answers from hooks and providers.
    let maxResponseBytes: Int

    public init(maxResponseBytes: Int = 1 << 20) {
        self.maxResponseBytes = maxResponseBytes
    }

    public func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        let timeout = TimeAmount.nanoseconds(
            request.timeout.components.seconds * 1_000_000_000 + request.timeout.components.attoseconds / 1_000_000_000
        )
        let response = try await HTTPClient.shared.execute(outgoing, timeout: timeout)
        var body = try await response.body.collect(upTo: maxResponseBytes)
        return OutboundResponse(status: Int(response.status.code), body: Data(body.readBytes(length: body.readableBytes) ?? []))
    }
}
