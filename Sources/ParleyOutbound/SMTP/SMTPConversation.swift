import Logging
import NIOCore
import NIOSSL
import ParleyCore
import Synchronization

/// One SMTP connection seen as a sequence of exchanges: write a command, wait for its reply.
///
/// Every exchange has a deadline; when it passes, the channel is closed, which ends the pending write or
/// read, and the exchange throws a transient `MailDeliveryError`. So no exchange ever waits forever.
struct SMTPConversation {
    private let channel: any Channel
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var replies: NIOAsyncChannelInboundStream<SMTPReply>.AsyncIterator
    private let logger: Logger
    /// Whether the bytes on the wire are TLS-protected now (implicit TLS, or after a successful STARTTLS).
    private(set) var isTLSActive: Bool
    /// False once the connection failed (timeout, closed, protocol error): nothing more is sent then.
    private(set) var isUsable = true

    init(channel: NIOAsyncChannel<SMTPReply, ByteBuffer>, inbound: NIOAsyncChannelInboundStream<SMTPReply>,
         outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, isTLSActive: Bool, logger: Logger) {
        self.channel = channel.channel
        self.outbound = outbound
        self.replies = inbound.makeAsyncIterator()
        self.isTLSActive = isTLSActive
        self.logger = logger
    }

    /// Reads the server's greeting (no command is sent).
    mutating func greeting(timeout: Duration) async throws -> SMTPReply {
        try await exchange([], stage: .greeting, timeout: timeout)
    }

    /// Sends one command line (CRLF is added) and returns the reply. `logAs` replaces the line in logs
    /// (for credentials).
    mutating func command(_ line: String, stage: MailDeliveryError.Stage, timeout: Duration, logAs: String? = nil)
        async throws -> SMTPReply {
        logger.debug("SMTP >>> \(logAs ?? line)")
        var buffer = channel.allocator.buffer(capacity: line.utf8.count + 2)
        buffer.writeString(line)
        buffer.writeStaticString("\r\n")
        return try await exchange([buffer], stage: stage, timeout: timeout)
    }

    /// Writes the prepared message data (ending with the `.` line) and returns the server's final reply.
    mutating func transfer(_ data: SMTPMessageData, timeout: Duration) async throws -> SMTPReply {
        logger.debug("SMTP >>> <\(data.size) bytes of message data>")
        var chunks: [ByteBuffer] = []
        var remaining = data.bytes
        while remaining.readableBytes > 0, let chunk = remaining.readSlice(length: min(remaining.readableBytes, 64 * 1024)) {
            chunks.append(chunk)
        }
        return try await exchange(chunks, stage: .data, timeout: timeout)
    }

    /// Sends `STARTTLS`; on `220`, `SMTPReplyHandler` has put TLS in front of the connection before this
    /// returns, and the handshake runs before the next command goes out. Any other reply is returned as is.
    mutating func startTLS(_ request: SMTPStartTLSRequest, timeout: Duration) async throws -> SMTPReply {
        do {
            try await channel.triggerUserOutboundEvent(request).get()
        } catch {
            isUsable = false
            throw MailDeliveryError(stage: .tls, code: nil, text: "could not prepare STARTTLS: \(error)", permanent: false)
        }
        let reply = try await command("STARTTLS", stage: .tls, timeout: timeout)
        if reply.code == 220 { isTLSActive = true }
        return reply
    }

    /// Says goodbye if the connection is still usable; never throws (the message's fate is already known).
    mutating func quit(timeout: Duration) async {
        guard isUsable else { return }
        _ = try? await command("QUIT", stage: .message, timeout: min(timeout, .seconds(5)))
    }

    private mutating func exchange(_ writes: [ByteBuffer], stage: MailDeliveryError.Stage, timeout: Duration)
        async throws -> SMTPReply {
        guard isUsable else {
            throw MailDeliveryError(stage: stage, code: nil, text: "the connection is no longer usable", permanent: false)
        }
        let expiry = SMTPDeadlineFlag()
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            expiry.expire()
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            if !writes.isEmpty {
                do {
                    try await outbound.write(contentsOf: writes)
                } catch {
                    // The channel closed under the write; why (a TLS failure, ...) waits in the inbound stream.
                    throw await closingError() ?? error
                }
            }
            guard let reply = try await replies.next(), !expiry.hasExpired else {
                throw MailDeliveryError(stage: stage, code: nil, text: "the server closed the connection", permanent: false)
            }
            logger.debug("SMTP <<< \(reply.code) \(reply.text)")
            return reply
        } catch {
            isUsable = false
            if expiry.hasExpired {
                throw MailDeliveryError(stage: stage, code: nil, text: "no reply within \(timeout)", permanent: false)
            }
            throw Self.deliveryError(for: error, stage: stage)
        }
    }

    /// The error the inbound stream ended with, if it ended with one.
    private mutating func closingError() async -> (any Error)? {
        do {
            while try await replies.next() != nil {}
            return nil
        } catch {
            return error
        }
    }

    /// Maps a connection-level error (never a reply) to a transient `MailDeliveryError`.
    static func deliveryError(for error: any Error, stage: MailDeliveryError.Stage) -> MailDeliveryError {
        switch error {
        case let error as MailDeliveryError:
            return error
        case let error as SMTPProtocolError:
            return MailDeliveryError(stage: stage, code: nil, text: error.description, permanent: false)
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return MailDeliveryError(stage: .tls, code: nil, text: "TLS failed: \(error)", permanent: false)
        default:
            return MailDeliveryError(stage: stage, code: nil, text: "connection failed: \(error)", permanent: false)
        }
    }
}

/// Set by an exchange's timer when the deadline passed, so the exchange reports a timeout, not a closed channel.
private final class SMTPDeadlineFlag: Sendable {
    private let expired = Atomic<Bool>(false)

    func expire() { expired.store(true, ordering: .sequentiallyConsistent) }

    var hasExpired: Bool { expired.load(ordering: .sequentiallyConsistent) }
}
