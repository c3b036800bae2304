import Foundation
import Messaging
import ParleyCore
import ParleyRealtime
import ParleyTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A client that stops reading must not make the server buffer without bound.
@Suite struct SlowConsumerTests {
    @Test func aClientThatStopsReadingIsCutOffAtItsQueueBound() async throws {
        var settings = GatewaySettings()
        settings.outboundQueueCapacity = 16
        try await LiveServer.run(.sqlite, gateway: settings, floodDetection: false) { server, _ in
            _ = try await server.token("alice")
            let token = try await server.token("bob")
            let alice = try UserID(validating: "alice"), bob = try UserID(validating: "bob")
            let conversation = try await server.services.messaging.openDirect(by: .user(alice), user: alice, with: bob).0.id
            // The raw socket blocks, so it runs off Swift's cooperative threads: blocking two of them (as many as
            // there are cores here) would stall the server it is waiting for, and the whole suite with it.
            let socket = try await offCooperativePool { try RawWebSocket(port: server.port, token: token) }
            try await offCooperativePool { try socket.sendText(#"{"type":"hello","id":1}"#) }
            // Wait until the gateway has the connection, then flood it while the client reads nothing.
            try #require(try await eventually(within: 60) { server.live.connectionCount == 1 })
            let big = String(repeating: "x", count: 7900)
            var sent = 0
            while server.live.connectionCount > 0, sent < 3000 {
                sent += 1
                _ = try await server.services.messaging.send(
                    try MessageDraft(conversationID: conversation, clientMsgID: "f\(sent)", kind: .text, body: ["text": .string(big)]),
                    by: .user(alice)
                )
                // Sends no longer wait for a thread hop per statement, so they can outrun the fan-out that fills the
                // queue; a pause every 50 lets it catch up (pacing, not a timing assertion).
                if sent % 50 == 0 { try await Task.sleep(for: .milliseconds(20)) }
            }
            try #require(try await eventually(within: 60) { server.live.connectionCount == 0 })
            #expect(server.live.deepestOutboundQueue <= 16)
            #expect(sent < 3000, "the server cut the slow connection off before the flood ended")
            // The socket was closed by the server: reading drains what was in flight, then ends.
            #expect(await offCooperativePool { socket.drainUntilClosed() })
            socket.close()
        }
    }
}

/// A deliberately minimal WebSocket client over a blocking POSIX socket with a tiny receive buffer: it
/// upgrades, writes masked text frames, and reads only when told to.
final class RawWebSocket: @unchecked Sendable {
    let descriptor: Int32

    init(port: Int, token: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestDatabaseError("socket() failed") }
        var small: Int32 = 4096
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        // No read may wait for ever: a server that never answers fails the test instead of hanging the suite.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestDatabaseError("connect() failed") }
        let request = "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer \(token)\r\n\r\n"
        try write(Array(request.utf8))
        // Read the 101 response headers byte by byte, so no frame after them is consumed.
        var response: [UInt8] = []
        while !response.suffix(4).elementsEqual([13, 10, 13, 10]) {
            var byte: UInt8 = 0
            guard recv(descriptor, &byte, 1, 0) == 1 else { throw TestDatabaseError("upgrade failed: \(String(decoding: response, as: UTF8.self))") }
            response.append(byte)
        }
        guard String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw TestDatabaseError("no upgrade: \(String(decoding: response, as: UTF8.self))")
        }
    }

    func sendText(_ text: String) throws {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask: [UInt8] = [1, 2, 3, 4]
        var frame: [UInt8] = [0x81, 0x80 | UInt8(payload.count)] + mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try write(frame)
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            guard written > 0 else { throw TestDatabaseError("send() failed") }
            offset += written
        }
    }

    /// Reads until the server closes the connection; true when it did (within a bounded number of reads).
    func drainUntilClosed() -> Bool {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<100_000 {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
        return false
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}
