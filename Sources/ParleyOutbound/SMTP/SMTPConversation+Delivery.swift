import Foundation
import ParleyCore

extension SMTPConversation {
    /// Opens the session: the greeting, EHLO, STARTTLS and AUTH as `server` asks. Returns what the server
    /// advertised (after TLS, when upgraded). The caller says `QUIT` afterwards, whatever happened.
    mutating func open(server: SMTPServer, heloName: String, tls: SMTPStartTLSRequest?) async throws -> SMTPCapabilities {
        let timeout = server.commandTimeout
        let greeting = try await greeting(timeout: timeout)
        guard greeting.code == 220 else { throw greeting.failure(at: .greeting) }

        var capabilities = try await hello(heloName, timeout: timeout)
        if case .starttls(let required) = server.security, let tls {
            capabilities = try await upgrade(capabilities, required: required, tls: tls, heloName: heloName, timeout: timeout)
        }
        if let credentials = server.credentials {
            try await authenticate(credentials, capabilities: capabilities, allowInsecure: server.allowInsecureAuth, timeout: timeout)
        }
        return capabilities
    }

    /// Runs one mail transaction on an open session, from `MAIL FROM` to the server's acceptance of the data.
    /// After a refusal the session may go on (`reset`); after a connection failure (`isUsable` false) it may not.
    mutating func transact(_ envelope: MailEnvelope, data: SMTPMessageData, capabilities: SMTPCapabilities, server: SMTPServer)
        async throws {
        let timeout = server.commandTimeout
        let sender = try await command(
            "MAIL FROM:<\(envelope.from)>" + (try mailParameters(envelope, data: data, capabilities: capabilities)),
            stage: .sender, timeout: timeout
        )
        guard sender.isPositive else { throw sender.failure(at: .sender, context: "sender <\(envelope.from)> refused") }
        for recipient in envelope.recipients {
            let reply = try await command("RCPT TO:<\(recipient)>", stage: .recipient, timeout: timeout)
            guard reply.isPositive else { throw reply.failure(at: .recipient, context: "recipient <\(recipient)> refused") }
        }
        let start = try await command("DATA", stage: .data, timeout: timeout)
        guard start.code == 354 else { throw start.failure(at: .data) }
        let accepted = try await transfer(data, timeout: server.dataTimeout)
        guard accepted.isPositive else { throw accepted.failure(at: .data, context: "message refused") }
    }

    /// `RSET` after a refused transaction, so the session can carry the next one; false when it cannot.
    mutating func reset(timeout: Duration) async -> Bool {
        guard isUsable, let reply = try? await command("RSET", stage: .message, timeout: timeout) else { return false }
        return reply.isPositive
    }

    /// `EHLO`, falling back to `HELO` (no extensions) when the server does not know `EHLO`.
    private mutating func hello(_ name: String, timeout: Duration) async throws -> SMTPCapabilities {
        let ehlo = try await command("EHLO \(name)", stage: .hello, timeout: timeout)
        if ehlo.isPositive { return SMTPCapabilities(ehlo: ehlo) }
        guard ehlo.isPermanentFailure else { throw ehlo.failure(at: .hello) }
        let helo = try await command("HELO \(name)", stage: .hello, timeout: timeout)
        guard helo.isPositive else { throw helo.failure(at: .hello) }
        return .none
    }

    /// STARTTLS when offered (then EHLO again, forgetting what was advertised in plaintext); with `required`,
    /// a server that does not offer it or refuses it fails the send before anything else is said.
    private mutating func upgrade(
        _ capabilities: SMTPCapabilities, required: Bool, tls: SMTPStartTLSRequest, heloName: String, timeout: Duration
    ) async throws -> SMTPCapabilities {
        guard capabilities.supports("STARTTLS") else {
            if required {
                throw MailDeliveryError(stage: .tls, code: nil, text: "the server does not offer STARTTLS, which is required",
                                        permanent: false)
            }
            return capabilities
        }
        let reply = try await startTLS(tls, timeout: timeout)
        guard reply.code == 220 else {
            if required { throw reply.failure(at: .tls, context: "STARTTLS refused") }
            return capabilities
        }
        return try await hello(heloName, timeout: timeout)
    }

    /// AUTH PLAIN (preferred) or LOGIN, whichever the server offers; only over TLS unless `allowInsecure`.
    private mutating func authenticate(
        _ credentials: SMTPServer.Credentials, capabilities: SMTPCapabilities, allowInsecure: Bool, timeout: Duration
    ) async throws {
        guard isTLSActive || allowInsecure else {
            throw MailDeliveryError(stage: .authentication, code: nil,
                                    text: "refusing to send credentials over a connection without TLS", permanent: false)
        }
        let mechanisms = capabilities.authMechanisms
        let reply: SMTPReply
        if mechanisms.contains("PLAIN") {
            let token = Data("\0\(credentials.username)\0\(credentials.password)".utf8).base64EncodedString()
            var plain = try await command("AUTH PLAIN \(token)", stage: .authentication, timeout: timeout, logAs: "AUTH PLAIN <redacted>")
            if plain.code == 334 {
                // A server that ignores the initial response asks for it again.
                plain = try await command(token, stage: .authentication, timeout: timeout, logAs: "<redacted>")
            }
            reply = plain
        } else if mechanisms.contains("LOGIN") {
            let start = try await command("AUTH LOGIN", stage: .authentication, timeout: timeout)
            guard start.code == 334 else { throw start.failure(at: .authentication) }
            let user = try await command(Data(credentials.username.utf8).base64EncodedString(), stage: .authentication,
                                         timeout: timeout, logAs: "<redacted>")
            guard user.code == 334 else { throw user.failure(at: .authentication) }
            reply = try await command(Data(credentials.password.utf8).base64EncodedString(), stage: .authentication,
                                      timeout: timeout, logAs: "<redacted>")
        } else {
            let offered = mechanisms.isEmpty ? "none" : mechanisms.sorted().joined(separator: " ")
            throw MailDeliveryError(stage: .authentication, code: nil,
                                    text: "credentials are configured but the server offers no AUTH PLAIN or LOGIN (offered: \(offered))",
                                    permanent: false)
        }
        guard reply.code == 235 else { throw reply.failure(at: .authentication, context: "authentication failed") }
    }

    /// `MAIL FROM` parameters: `SIZE` when advertised, `BODY=8BITMIME` and `SMTPUTF8` when advertised and
    /// needed. Refuses a message over the advertised size, or one that needs SMTPUTF8 the server lacks.
    private func mailParameters(_ envelope: MailEnvelope, data: SMTPMessageData, capabilities: SMTPCapabilities) throws -> String {
        var parameters = ""
        if capabilities.supports("SIZE") {
            if let limit = capabilities.sizeLimit, data.size > limit {
                throw MailDeliveryError(stage: .message, code: nil,
                                        text: "the message is \(data.size) bytes; the server accepts at most \(limit)", permanent: true)
            }
            parameters += " SIZE=\(data.size)"
        }
        if data.hasEightBitBytes && capabilities.supports("8BITMIME") { parameters += " BODY=8BITMIME" }
        if envelope.needsSMTPUTF8 {
            guard capabilities.supports("SMTPUTF8") else {
                throw MailDeliveryError(stage: .message, code: nil,
                                        text: "an address is not ASCII and the server does not support SMTPUTF8", permanent: true)
            }
            parameters += " SMTPUTF8"
        }
        return parameters
    }
}
