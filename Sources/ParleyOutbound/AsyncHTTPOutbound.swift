import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import ParleyCore

/// `OutboundHTTP` over AsyncHTTPClient's shared client (HTTP/1.1 and HTTP/2, TLS, pooled connections).
public struct AsyncHTTPOutbound: OutboundHTTP {
    /// Responses larger than this are cut off: Parley only reads small JSON answers from hooks and providers.
    let maxResponseBytes: Int
    /// A client of this value's own (extra trusted roots); nil uses `HTTPClient.shared`.
    private let ownClient: HTTPClient?

    public init(maxResponseBytes: Int = 1 << 20) {
        self.maxResponseBytes = maxResponseBytes
        self.ownClient = nil
    }

    /// An outbound client that also trusts the root certificates in a PEM file, beside the system's: for
    /// tests against local TLS servers (a push gateway stand-in) and for private CAs.
    ///
    /// It owns its own `HTTPClient` (still HTTP/2 by ALPN when the server offers it): call `shutdown()` when
    /// done with it.
    /// - Throws: when the file cannot be read as PEM certificates.
    public init(maxResponseBytes: Int = 1 << 20, additionalTrustRootsPEMFile path: String) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(path))]
        self.maxResponseBytes = maxResponseBytes
        self.ownClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: tls))
    }

    /// Shuts down the client this value owns; does nothing for one on the shared client.
    public func shutdown() async throws {
        try await ownClient?.shutdown()
    }

    public func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        let timeout = TimeAmount.nanoseconds(
            request.timeout.components.seconds * 1_000_000_000 + request.timeout.components.attoseconds / 1_000_000_000
        )
        let response = try await (ownClient ?? HTTPClient.shared).execute(outgoing, timeout: timeout)
        var body = try await response.body.collect(upTo: maxResponseBytes)
        return OutboundResponse(status: Int(response.status.code), body: Data(body.readBytes(length: body.readableBytes) ?? []))
    }
}
