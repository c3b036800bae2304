import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ParleyCore

/// `OutboundMailer` over SwiftNIO (RFC 5321), with STARTTLS (RFC 3207) or implicit TLS, AUTH PLAIN/LOGIN
/// (RFC 4616, draft-murchison-sasl-login), and the SIZE, 8BITMIME and SMTPUTF8 extensions when the server
/// advertises them and the message needs them. Sessions are reused for later messages to the same server
/// (`SMTPSessionPool`: parked up to 30 seconds, at most 4 per server).
///
/// Guarantees: every reply code is checked; every wait (connect, each reply, the data transfer) has a
/// deadline from the `SMTPServer`; credentials never travel without TLS unless `allowInsecureAuth`; with
/// `.starttls(required: true)` nothing is sent before the upgrade succeeded. Failures are thrown as
/// `MailDeliveryError` (see there for which are permanent). A reused session that the server had closed
/// before the message's first command is replaced by a new one, so reuse never fails a message.
public struct NIOSMTPMailer: OutboundMailer {
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let sessions: SMTPSessionPool

    public init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "parley.smtp"),
                sessionIdleTimeout: Duration = .seconds(30), maxParkedSessionsPerServer: Int = 4) {
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        sessions = SMTPSessionPool(idleTimeout: sessionIdleTimeout, maxParkedPerServer: maxParkedSessionsPerServer)
    }

    public func send(_ envelope: MailEnvelope, via server: SMTPServer) async throws {
        try Self.validate(envelope)
        let heloName = try Self.heloName(for: server)
        let tls = try Self.tlsRequest(for: server)
        let data = SMTPMessageData(envelope.message)
        var logger = self.logger
        logger[metadataKey: "smtp.server"] = "\(server.host):\(server.port)"
        let session = logger
        var mayReuse = true
        while true {
            do {
                try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                    let job = SMTPJob(envelope: envelope, data: data, done: done)
                    if !(mayReuse && sessions.dispatch(job, to: server)) {
                        openSession(server, heloName: heloName, tls: tls, first: job, logger: session)
                    }
                }
                return
            } catch is SMTPStaleSession where mayReuse {
                mayReuse = false  // nothing of it was sent: once more, on a new session
            }
        }
    }

    /// Closes the sessions parked for reuse.
    public func closeIdleSessions() {
        sessions.closeAll()
    }

    /// Opens a session for `first` and keeps it for later messages until it is idle too long (a task of its own:
    /// it outlives the send that opened it).
    private func openSession(_ server: SMTPServer, heloName: String, tls: SMTPStartTLSRequest?, first: SMTPJob, logger: Logger) {
        Task { await runSession(server, heloName: heloName, tls: tls, first: first, logger: logger) }
    }

    private func runSession(_ server: SMTPServer, heloName: String, tls: SMTPStartTLSRequest?, first: SMTPJob, logger: Logger) async {
        // The job whose sender still waits: told of any failure that ends the session before it was answered.
        var unanswered: SMTPJob? = first
        do {
            let connection = try await connect(to: server, implicitTLS: server.security == .tls ? tls : nil)
            try await connection.executeThenClose { inbound, outbound in
                var conversation = SMTPConversation(
                    channel: connection, inbound: inbound, outbound: outbound, isTLSActive: server.security == .tls, logger: logger
                )
                let capabilities: SMTPCapabilities
                do {
                    capabilities = try await conversation.open(server: server, heloName: heloName, tls: tls)
                } catch {
                    await conversation.quit(timeout: server.commandTimeout)
                    throw error
                }
                var job = first
                var reused = false
                while true {
                    let outcome: Result<Void, any Error>
                    do {
                        try await conversation.transact(job.envelope, data: job.data, capabilities: capabilities, server: server)
                        outcome = .success(())
                    } catch {
                        outcome = .failure(reused && Self.isStale(error) ? SMTPStaleSession() : error)
                    }
                    unanswered = nil
                    // A refused message leaves the session usable once reset; a broken connection does not.
                    if case .failure = outcome, await !conversation.reset(timeout: server.commandTimeout) {
                        job.done.resume(with: outcome)
                        return
                    }
                    // Parked before its sender hears back, so the sender's next message finds it.
                    let answered = job
                    guard let next = await sessions.park(server: server, then: { answered.done.resume(with: outcome) }) else { break }
                    job = next
                    unanswered = next
                    reused = true
                }
                await conversation.quit(timeout: server.commandTimeout)
            }
        } catch {
            unanswered?.done.resume(throwing: error)
        }
    }

    /// Whether a reused session failed before anything of the message was said: the server had closed it
    /// (no reply at all, or 421 "closing") at the transaction's first command.
    static func isStale(_ error: any Error) -> Bool {
        guard let error = error as? MailDeliveryError, error.stage == .sender else { return false }
        return error.code == nil || error.code == 421
    }

    private func connect(to server: SMTPServer, implicitTLS: SMTPStartTLSRequest?) async throws -> NIOAsyncChannel<SMTPReply, ByteBuffer> {
        do {
            return try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(server.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: server.host, port: server.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let implicitTLS {
                            let tls = try NIOSSLClientHandler(context: implicitTLS.context, serverHostname: implicitTLS.serverHostname)
                            try channel.pipeline.syncOperations.addHandler(tls)
                        }
                        try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler())
                        return try NIOAsyncChannel<SMTPReply, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SMTPConversation.deliveryError(for: error, stage: .connect)
        }
    }

    /// Refuses envelopes that can never be sent: no recipients, or an address that could inject commands.
    static func validate(_ envelope: MailEnvelope) throws {
        guard !envelope.recipients.isEmpty else {
            throw MailDeliveryError(stage: .message, code: nil, text: "the envelope has no recipients", permanent: true)
        }
        for address in [envelope.from] + envelope.recipients where !MailEnvelope.isValidAddress(address) {
            throw MailDeliveryError(stage: .message, code: nil, text: "invalid address \(address.prefix(100).debugDescription)",
                                    permanent: true)
        }
    }

    /// The EHLO name: the configured one (checked), else this machine's host name when it is a plain domain.
    static func heloName(for server: SMTPServer) throws -> String {
        if let configured = server.heloName {
            guard isValidHeloName(configured) else {
                throw MailDeliveryError(stage: .hello, code: nil, text: "invalid HELO name \(configured.prefix(100).debugDescription)",
                                        permanent: true)
            }
            return configured
        }
        let host = ProcessInfo.processInfo.hostName
        return isValidHeloName(host) && !host.hasPrefix("[") ? host : "localhost"
    }

    private static func isValidHeloName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255 else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-.:[]".unicodeScalars.contains(scalar))
        }
    }

    /// The TLS settings for `server`, or nil when it never uses TLS. The system's roots are trusted, plus the
    /// server's extra PEM roots; certificates and host names are always verified; TLS 1.2 at least.
    static func tlsRequest(for server: SMTPServer) throws -> SMTPStartTLSRequest? {
        if server.security == .none { return nil }
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let pem = server.trustedRootCertificatesPEM {
                let certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
                guard !certificates.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
                configuration.additionalTrustRoots = [.certificates(certificates)]
            }
            let context = try NIOSSLContext(configuration: configuration)
            let isIPAddress = (try? SocketAddress(ipAddress: server.host, port: 0)) != nil
            return SMTPStartTLSRequest(context: context, serverHostname: isIPAddress ? nil : server.host)
        } catch {
            throw MailDeliveryError(stage: .tls, code: nil, text: "invalid TLS settings: \(error)", permanent: false)
        }
    }
}
