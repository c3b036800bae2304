import NIOCore
import NIOSSL

/// Asks `SMTPReplyHandler` to switch the connection to TLS right after the server's answer to `STARTTLS`.
///
/// Sent as a user outbound event before the `STARTTLS` command is written. If the next reply is `220` the
/// handler inserts a `NIOSSLClientHandler` in front of itself before any further byte is read, so nothing
/// the server (or a man in the middle) sent in plaintext after the `220` can pass for a reply over TLS:
/// such bytes fail the connection (RFC 3207 §6, the "STARTTLS command injection" attack).
struct SMTPStartTLSRequest: Sendable {
    var context: NIOSSLContext
    /// The name to send in SNI and to verify the certificate against; nil for an IP address, which NIOSSL
    /// then verifies against the certificate's IP subject alternative names.
    var serverHostname: String?
}

/// Errors in the bytes a server sends, raised through the pipeline and surfaced by `SMTPConversation`.
enum SMTPProtocolError: Error, Equatable, CustomStringConvertible {
    case malformedReply(String)
    case replyTooLong
    case dataAfterSTARTTLS

    var description: String {
        switch self {
        case .malformedReply(let line): "malformed SMTP reply line: \(line.prefix(80).debugDescription)"
        case .replyTooLong: "the server's reply is too long"
        case .dataAfterSTARTTLS: "the server sent data after its STARTTLS reply, before the TLS handshake"
        }
    }
}

/// Frames the server's bytes into `SMTPReply` values (multi-line replies joined) and performs the STARTTLS
/// switch. Outbound bytes pass through unchanged.
final class SMTPReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = SMTPReply
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Longest reply line accepted (RFC 5321 allows 512 octets; servers exceed it in practice).
    static let maximumLineLength = 4096
    /// Most lines in one reply.
    static let maximumLines = 512

    private var buffer: ByteBuffer?
    private var code: Int?
    private var lines: [String] = []
    private var pendingStartTLS: SMTPStartTLSRequest?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil {
            buffer = incoming
        } else {
            buffer!.writeBuffer(&incoming)
        }
        do {
            try decodeReplies(context: context)
        } catch {
            buffer = nil
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let request = event as? SMTPStartTLSRequest {
            pendingStartTLS = request
            promise?.succeed(())
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func decodeReplies(context: ChannelHandlerContext) throws {
        while var pending = buffer, let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readableBytesView.startIndex + 1
            guard length <= Self.maximumLineLength + 2, var line = pending.readSlice(length: length) else {
                throw SMTPProtocolError.replyTooLong
            }
            buffer = pending.readableBytes > 0 ? pending : nil
            line.moveWriterIndex(to: line.writerIndex - 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            if let reply = try accept(line: line) { try deliver(reply, context: context) }
        }
        if let pending = buffer, pending.readableBytes > Self.maximumLineLength + 2 {
            throw SMTPProtocolError.replyTooLong
        }
    }

    /// Adds one line to the reply being read; returns the reply once its last line arrived.
    private func accept(line: ByteBuffer) throws -> SMTPReply? {
        let bytes = Array(line.readableBytesView)
        let text = String(decoding: bytes, as: UTF8.self)
        guard bytes.count >= 3, bytes[0..<3].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let lineCode = Int(String(decoding: bytes[0..<3], as: UTF8.self)), (200..<600).contains(lineCode)
        else { throw SMTPProtocolError.malformedReply(text) }
        let separator = bytes.count > 3 ? bytes[3] : UInt8(ascii: " ")
        guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else { throw SMTPProtocolError.malformedReply(text) }
        if let code, code != lineCode { throw SMTPProtocolError.malformedReply(text) }
        code = lineCode
        lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
        guard lines.count <= Self.maximumLines else { throw SMTPProtocolError.replyTooLong }
        guard separator == UInt8(ascii: " ") else { return nil }
        defer {
            code = nil
            lines = []
        }
        return SMTPReply(code: lineCode, lines: lines)
    }

    private func deliver(_ reply: SMTPReply, context: ChannelHandlerContext) throws {
        if let request = pendingStartTLS {
            pendingStartTLS = nil
            if reply.code == 220 {
                guard buffer == nil else { throw SMTPProtocolError.dataAfterSTARTTLS }
                let tls = try NIOSSLClientHandler(context: request.context, serverHostname: request.serverHostname)
                try context.pipeline.syncOperations.addHandler(tls, position: .before(self))
                // The read-complete of this read now passes through the TLS handler, which swallows it as
                // it decrypted nothing; without our own, the reply would sit in the async channel's buffer.
                context.fireChannelRead(wrapInboundOut(reply))
                context.fireChannelReadComplete()
                return
            }
        }
        context.fireChannelRead(wrapInboundOut(reply))
    }
}
