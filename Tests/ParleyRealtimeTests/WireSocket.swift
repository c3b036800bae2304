import Foundation
import NIOCore
import NIOPosix
import ParleyTestSupport
import Synchronization

/// A WebSocket client that speaks the wire format byte by byte, for what a library client hides: close
/// codes, control frames, fragments, half-closing, and not answering pings.
final class WireSocket: Sendable {
    struct Frame: Equatable {
        let opcode: UInt8
        let fin: Bool
        let payload: [UInt8]

        var text: String { String(decoding: payload, as: UTF8.self) }
        /// The status code of a close frame.
        var closeCode: Int? { opcode == 0x8 && payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil }
        var closeReason: String { String(decoding: payload.dropFirst(2), as: UTF8.self) }
    }

    /// What the server sent and this client has not consumed yet, and whether the server closed its side.
    final class Received: Sendable {
        let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))
    }

    private let channel: any Channel
    private let received: Received

    private init(channel: any Channel, received: Received) {
        self.channel = channel
        self.received = received
    }

    /// Connects, upgrades `path`, and returns once the server answered 101 (throws on anything else).
    static func connect(port: Int, path: String = "/v1/ws", token: String?, headers: [(String, String)] = []) async throws -> WireSocket {
        let received = Received()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(received)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let socket = WireSocket(channel: channel, received: received)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try await socket.writeBytes(Array(request.utf8))
        let head = try await socket.readHTTPHead()
        guard head.hasPrefix("HTTP/1.1 101") else { throw TestDatabaseError("upgrade refused: \(head)") }
        return socket
    }

    private func writeBytes(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Writes one frame, masked as a client must.
    func send(opcode: UInt8, payload: [UInt8], fin: Bool = true) async throws {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        switch payload.count {
        case ..<126:
            frame.append(0x80 | UInt8(payload.count))
        case ..<65536:
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default:
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try await writeBytes(frame)
    }

    func sendText(_ text: String, fin: Bool = true, continuation: Bool = false) async throws {
        try await send(opcode: continuation ? 0x0 : 0x1, payload: Array(text.utf8), fin: fin)
    }

    /// Shuts the client's sending side (TCP FIN) while still reading.
    func shutdownOutput() async throws {
        try await channel.close(mode: .output)
    }

    func close() {
        channel.close(promise: nil)
    }

    /// The next frame from the server; nil once the server closed the connection. Throws after `seconds`.
    func nextFrame(within seconds: Double = 15) async throws -> Frame? {
        try await poll(within: seconds) { state in
            if let frame = Self.parseFrame(&state.bytes) { return .some(frame) }
            return state.closed ? .some(nil) : nil
        }
    }

    /// Waits until `take` finds what it looks for in the received bytes (checking every 10 ms).
    private func poll<T>(within seconds: Double, _ take: (inout (bytes: [UInt8], closed: Bool)) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            if let found = received.state.withLock({ take(&$0) }) { return found }
            guard ContinuousClock.now < deadline else { throw TestDatabaseError("nothing from the server within \(seconds) s") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The next frame that is not a ping (pings are answered by nothing: this client never pongs).
    func nextFrame(skippingPings: Bool, within seconds: Double = 15) async throws -> Frame? {
        while let frame = try await nextFrame(within: seconds) {
            if frame.opcode == 0x9, skippingPings { continue }
            return frame
        }
        return nil
    }

    private func readHTTPHead() async throws -> String {
        try await poll(within: 15) { state -> String? in
            let bytes = state.bytes
            guard let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<$0 + 4].elementsEqual([13, 10, 13, 10]) }) else {
                return state.closed ? "closed during the upgrade" : nil
            }
            state.bytes.removeFirst(end + 4)
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }

    /// Takes one whole server frame (unmasked) off the front of `bytes`, if there is one.
    static func parseFrame(_ bytes: inout [UInt8]) -> Frame? {
        guard bytes.count >= 2 else { return nil }
        var length = Int(bytes[1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            offset = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard bytes.count >= offset + length else { return nil }
        let frame = Frame(opcode: bytes[0] & 0x0F, fin: bytes[0] & 0x80 != 0, payload: Array(bytes[offset..<offset + length]))
        bytes.removeFirst(offset + length)
        return frame
    }

    /// Keeps every received byte; notes when the server closes or half-closes.
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: Received

        init(_ received: Received) {
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let chunk = unwrapInboundIn(data)
            received.state.withLock { $0.bytes += chunk.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            received.state.withLock { $0.closed = true }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { received.state.withLock { $0.closed = true } }
        }
    }
}
