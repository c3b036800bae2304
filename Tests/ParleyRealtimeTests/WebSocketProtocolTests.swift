import Foundation
import HummingbirdTesting
import NIOCore
import HTTPTypes
import Moderation
import ParleyCore
import ParleyHTTP
import ParleyRealtime
import ParleyTestSupport
import Testing

/// The gateway's WebSocket protocol at the byte level (RFC 6455): close codes and the close handshake,
/// control frames, fragments, size limits, keep-alive and half-closed clients. The gateway is a channel
/// handler of its own, so none of this comes from a library's server.
@Suite struct WebSocketProtocolTests {
    func hello(_ socket: WireSocket) async throws -> JSONValue? {
        try await socket.sendText(#"{"type":"hello","id":1}"#)
        guard let frame = try await socket.nextFrame(skippingPings: true), frame.opcode == 0x1 else { return nil }
        return try JSONValue(parsing: frame.text)
    }

    @Test func aRefusedCredentialIsToldWhyAndClosedWithCode4401() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let socket = try await WireSocket.connect(port: server.port, token: "not-a-token")
            let error = try #require(try await socket.nextFrame())
            #expect(error.opcode == 0x1)
            #expect(try JSONValue(parsing: error.text)["code"] == "auth.invalid_token")
            let close = try #require(try await socket.nextFrame())
            #expect(close.closeCode == 4401)
            #expect(close.closeReason == "auth.invalid_token")
            // The client answers the close; the server then ends the TCP connection.
            try await socket.send(opcode: 0x8, payload: [0x03, 0xE8])
            #expect(try await socket.nextFrame() == nil)
            #expect(server.live.connectionCount == 0)
        }
    }

    @Test func anUpgradeOnAnotherPathIsRefusedWith400() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let token = try await server.token("alice")
            await #expect {
                _ = try await WireSocket.connect(port: server.port, path: "/v1/elsewhere", token: token)
            } throws: { error in
                "\(error)".contains("HTTP/1.1 400")
            }
        }
    }

    @Test func aClientThatNeverSaysHelloIsToldAndClosed() async throws {
        var settings = GatewaySettings()
        settings.helloTimeoutSeconds = 0.3
        try await LiveServer.run(.sqlite, gateway: settings) { server, _ in
            let socket = try await WireSocket.connect(port: server.port, token: try await server.token("alice"))
            let error = try #require(try await socket.nextFrame())
            #expect(try JSONValue(parsing: error.text)["code"] == "gateway.hello_timeout")
            let close = try #require(try await socket.nextFrame())
            #expect(close.closeCode == 1000)
            try await socket.send(opcode: 0x8, payload: [0x03, 0xE8])
            #expect(try await socket.nextFrame() == nil)
        }
    }

    @Test func fragmentsFormOneFramePingsArePongedAndBinaryIsRefused() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let socket = try await WireSocket.connect(port: server.port, token: try await server.token("alice"))
            // A hello in two fragments, with a ping between them (control frames may interleave).
            try await socket.sendText(#"{"type":"hel"#, fin: false)
            try await socket.send(opcode: 0x9, payload: [1, 2, 3])
            try await socket.sendText(#"lo","id":7}"#, continuation: true)
            let pong = try #require(try await socket.nextFrame())
            #expect(pong.opcode == 0xA)
            #expect(pong.payload == [1, 2, 3])
            let ok = try JSONValue(parsing: try #require(try await socket.nextFrame()).text)
            #expect(ok["type"] == "hello_ok")
            #expect(ok["id"] == 7)
            try await socket.send(opcode: 0x2, payload: [0xFF, 0x00])
            let refusal = try JSONValue(parsing: try #require(try await socket.nextFrame()).text)
            #expect(refusal["code"] == "gateway.text_only")
            // The connection is still usable.
            try await socket.sendText(#"{"type":"ping","id":8}"#)
            #expect(try JSONValue(parsing: try #require(try await socket.nextFrame()).text)["type"] == "pong")
            socket.close()
        }
    }

    @Test func aMessageOverTheLimitClosesWith1009WholeOrInFragments() async throws {
        var settings = GatewaySettings()
        settings.maxFrameSize = 1024
        try await LiveServer.run(.sqlite, gateway: settings) { server, _ in
            let token = try await server.token("alice")
            let whole = try await WireSocket.connect(port: server.port, token: token)
            try await whole.sendText(String(repeating: "x", count: 2000))
            #expect(try await whole.nextFrame(skippingPings: true)?.closeCode == 1009)
            let fragmented = try await WireSocket.connect(port: server.port, token: token)
            try await fragmented.sendText(String(repeating: "x", count: 600), fin: false)
            try await fragmented.sendText(String(repeating: "x", count: 600), continuation: true)
            #expect(try await fragmented.nextFrame(skippingPings: true)?.closeCode == 1009)
            // Neither took the server down.
            let fine = try await WireSocket.connect(port: server.port, token: token)
            #expect(try await hello(fine)?["type"] == "hello_ok")
            fine.close()
        }
    }

    @Test func aClientThatStopsAnsweringPingsIsDisconnectedAndOneThatAnswersIsNot() async throws {
        var settings = GatewaySettings()
        // An answering client has one interval to answer each ping: two seconds, so that a test process starved under
        // the full suite's load (as one was for over three seconds, failing another test) does not look silent.
        settings.pingIntervalSeconds = 2
        try await LiveServer.run(.sqlite, gateway: settings) { server, _ in
            // The library client answers pings: after many intervals it is still connected.
            let answering = try await server.connect(try await server.token("bob"))
            try answering.send(["type": "hello", "id": 1])
            _ = try await answering.next(type: "hello_ok")
            let silent = try await WireSocket.connect(port: server.port, token: try await server.token("alice"))
            try await silent.sendText(#"{"type":"hello","id":1}"#)
            var opcodes: [UInt8] = []
            var close: WireSocket.Frame?
            while close == nil, let frame = try await silent.nextFrame() {
                if frame.opcode == 0x8 { close = frame } else { opcodes.append(frame.opcode) }
            }
            #expect(opcodes.contains(0x1), "hello_ok")
            #expect(opcodes.contains(0x9), "a ping, left unanswered")
            #expect(close?.closeCode == 1001)
            try await silent.send(opcode: 0x8, payload: [0x03, 0xE9])
            #expect(try await silent.nextFrame() == nil)
            #expect(try await eventually { server.live.connectionCount == 1 })
            try await Task.sleep(for: .seconds(5))
            try answering.send(["type": "ping", "id": 2])
            #expect(try await answering.next(type: "pong")["id"] == 2)
            #expect(server.live.connectionCount == 1)
            answering.close()
        }
    }

    @Test func aClosingClientGetsItsCodeEchoedAndAHalfClosedOneIsDropped() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let token = try await server.token("alice")
            let closing = try await WireSocket.connect(port: server.port, token: token)
            #expect(try await hello(closing)?["type"] == "hello_ok")
            #expect(server.live.connectionCount == 1)
            try await closing.send(opcode: 0x8, payload: [0x0F, 0xA0] + Array("bye".utf8))
            let echo = try #require(try await closing.nextFrame(skippingPings: true))
            #expect(echo.closeCode == 4000)
            #expect(try await closing.nextFrame() == nil)
            #expect(try await eventually { server.live.connectionCount == 0 })

            let halfClosed = try await WireSocket.connect(port: server.port, token: token)
            #expect(try await hello(halfClosed)?["type"] == "hello_ok")
            #expect(try await eventually { server.live.connectionCount == 1 })
            try await halfClosed.shutdownOutput()
            #expect(try await halfClosed.nextFrame(skippingPings: true) == nil)
            #expect(try await eventually { server.live.connectionCount == 0 })
        }
    }

    /// Connects as `client` (what a proxy forwards in X-Forwarded-For, or with `rfc7239` in Forwarded) and returns
    /// the code of the error frame the server sent at once, or nil when it waits for hello (accepted).
    func refusal(_ server: LiveServer, token: String, forwardedFor client: String, rfc7239: Bool = false) async throws -> String? {
        let header = rfc7239 ? ("Forwarded", client.split(separator: ",").map { "for=\($0.trimmingCharacters(in: .whitespaces))" }
            .joined(separator: ", ")) : ("X-Forwarded-For", client)
        let socket = try await WireSocket.connect(port: server.port, token: token, headers: [header])
        defer { socket.close() }
        do {
            guard let frame = try await socket.nextFrame(within: 1) else { return "closed" }
            return try JSONValue(parsing: frame.text)["code"]?.stringValue
        } catch is TestDatabaseError {
            return nil  // nothing within a second: the connection waits for hello
        }
    }

    /// The gateway behind a proxy on this machine (the tests' connections come from loopback).
    static func behindLoopbackProxy() throws -> GatewaySettings {
        var gateway = GatewaySettings()
        gateway.trustedProxies = try TrustedProxies(parsing: "127.0.0.1, ::1")
        return gateway
    }

    /// The default limits, with `action` allowed once an hour per client address.
    static func oncePerHourByAddress(_ action: RateLimitedAction) -> RateLimitPolicy {
        var policy = RateLimitPolicy.defaults
        policy.rules[action] = [.ip: RateLimit(count: 1, per: 3600, burst: 1)]
        return policy
    }

    @Test(arguments: [false, true])
    func behindATrustedProxyEachForwardedClientHasItsOwnConnectLimit(rfc7239: Bool) async throws {
        try await LiveServer.run(.sqlite, gateway: try Self.behindLoopbackProxy(), rateLimitPolicy: Self.oncePerHourByAddress(.login)) {
            server, _ in
            let token = try await server.token("alice")
            #expect(try await refusal(server, token: token, forwardedFor: "203.0.113.1", rfc7239: rfc7239) == nil)
            #expect(try await refusal(server, token: token, forwardedFor: "198.51.100.7, 203.0.113.2", rfc7239: rfc7239) == nil)
            #expect(try await refusal(server, token: token, forwardedFor: "203.0.113.1", rfc7239: rfc7239) == "moderation.rate_limited")
        }
    }

    @Test func withoutTrustedProxiesForwardedForIsIgnored() async throws {
        try await LiveServer.run(.sqlite, rateLimitPolicy: Self.oncePerHourByAddress(.login)) { server, _ in
            let token = try await server.token("alice")
            #expect(try await refusal(server, token: token, forwardedFor: "203.0.113.1") == nil)
            // Another claimed address changes nothing: the socket's peer (127.0.0.1) has used its budget.
            #expect(try await refusal(server, token: token, forwardedFor: "203.0.113.2") == "moderation.rate_limited")
        }
    }

    @Test(arguments: [false, true])
    func httpRoutesLimitedByAddressCountForwardedClientsBehindATrustedProxy(rfc7239: Bool) async throws {
        try await LiveServer.run(.sqlite, gateway: try Self.behindLoopbackProxy(),
                                 rateLimitPolicy: Self.oncePerHourByAddress(.createConversation)) { server, client in
            let token = try await server.token("alice")
            func create(forwardedFor address: String) async throws -> HTTPResponse.Status {
                var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
                if rfc7239 { headers[.forwarded] = "for=\(address);proto=https" } else { headers[.xForwardedFor] = address }
                return try await client.execute(uri: "/v1/conversations", method: .post, headers: headers,
                                                body: ByteBuffer(string: #"{"type": "group", "name": "team"}"#)) { $0.status }
            }
            #expect(try await create(forwardedFor: "203.0.113.1") == .created)
            #expect(try await create(forwardedFor: "203.0.113.2") == .created)
            #expect(try await create(forwardedFor: "203.0.113.1") == .tooManyRequests)
        }
    }
}
