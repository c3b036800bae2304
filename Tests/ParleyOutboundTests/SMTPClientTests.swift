import ParleyTestSupport
import Foundation
import Notifications
import ParleyCore
@testable import ParleyOutbound
import Testing

/// `NIOSMTPMailer` against a real SMTP server (aiosmtpd, see `SMTPSink`): plain, STARTTLS, implicit TLS,
/// AUTH, refusals and failures.
@Suite("SMTP client against a real SMTP server")
struct SMTPClientTests {
    let mailer = NIOSMTPMailer()

    static let subject = "Grüße, Zoë — 你好 👋 a notification with a subject long enough to need several encoded-words"
    static let text = "Hello Zoë,\n\nYou have 3 new messages.\n.a line that starts with a dot\nLast line with = sign."
    static let html = "<p>Hello <b>Zoë</b>,</p>\n<p>You have 3 new messages — 你好.</p>"

    static func message(to recipients: [String] = ["alice@example.com"], text: String? = text, html: String? = html) throws -> MailEnvelope {
        try MIMEMessage(
            from: .init("notifications@parley.test", displayName: "Parley Notifications"),
            to: recipients.map { .init($0, displayName: "Alice") },
            subject: subject,
            date: Date(timeIntervalSince1970: 1_767_225_600),
            messageID: MIMEMessage.messageID(notificationID: "ntf_1", user: UserID(trusted: "alice"), domain: "parley.test"),
            text: text, html: html,
            listUnsubscribe: "<https://parley.test/u/abc>", listUnsubscribeOneClick: true,
            extraHeaders: [.init("X-Parley-Notification", "ntf_1")]
        ).envelope()
    }

    static func server(_ sink: SMTPSink, security: SMTPServer.Security, trustCA: Bool = true,
                       credentials: SMTPServer.Credentials? = nil) throws -> SMTPServer {
        let needsCA = trustCA && security != .none
        return SMTPServer(
            host: "127.0.0.1", port: sink.port, security: security, credentials: credentials, heloName: "client.parley.test",
            connectTimeout: .seconds(5), commandTimeout: .seconds(10), dataTimeout: .seconds(10),
            trustedRootCertificatesPEM: needsCA ? try TestTLSMaterial.make().caPEM : nil
        )
    }

    /// Sends and returns the failure; records an issue when the send succeeded (unless `expectFailure` is false).
    func failure(_ envelope: MailEnvelope, via server: SMTPServer, expectFailure: Bool = true,
                 sourceLocation: SourceLocation = #_sourceLocation) async -> MailDeliveryError? {
        do {
            try await mailer.send(envelope, via: server)
            if expectFailure { Issue.record("the send succeeded", sourceLocation: sourceLocation) }
            return nil
        } catch let error as MailDeliveryError {
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func aMultipartMessageArrivesOverPlainSMTPWithItsSubjectTextAndHTMLIntact() async throws {
        try await SMTPSink.with { sink in
            try await mailer.send(Self.message(), via: Self.server(sink, security: .none))
            let mails = try sink.messages()
            let mail = try #require(mails.first, "nothing delivered; sink log:\n\(sink.log)")
            #expect(mails.count == 1)
            #expect(mail.parse_error == nil)
            #expect(mail.mail_from == "notifications@parley.test")
            #expect(mail.rcpt_tos == ["alice@example.com"])
            #expect(mail.tls == false)
            #expect(mail.content_type == "multipart/alternative")
            #expect(mail.subject == Self.subject)
            #expect(mail.from == "Parley Notifications <notifications@parley.test>")
            #expect(normalized(mail.text) == Self.text)
            #expect(normalized(mail.html) == Self.html)
            #expect(mail.mail_options.contains { $0.hasPrefix("SIZE=") })
        }
    }

    @Test func startTLSIsUsedWhenTheServerOffersIt() async throws {
        let tls = try TestTLSMaterial.make()
        try await SMTPSink.with(.init(tls: tls)) { sink in
            try await mailer.send(Self.message(), via: Self.server(sink, security: .starttls(required: false)))
            let mail = try #require(try sink.messages().first, "nothing delivered; sink log:\n\(sink.log)")
            #expect(mail.tls)
            #expect(mail.subject == Self.subject)
        }
    }

    @Test func aServerThatRequiresSTARTTLSGetsIt() async throws {
        let tls = try TestTLSMaterial.make()
        try await SMTPSink.with(.init(tls: tls, requireStartTLS: true)) { sink in
            try await mailer.send(Self.message(), via: Self.server(sink, security: .starttls(required: true)))
            #expect(try sink.messages().map(\.tls) == [true])
        }
    }

    @Test func implicitTLSDelivers() async throws {
        let tls = try TestTLSMaterial.make()
        try await SMTPSink.with(.init(tls: tls, implicitTLS: true)) { sink in
            try await mailer.send(Self.message(), via: Self.server(sink, security: .tls))
            #expect(try sink.messages().map(\.tls) == [true])
        }
    }

    @Test func credentialsAuthenticateOverSTARTTLS() async throws {
        let tls = try TestTLSMaterial.make()
        try await SMTPSink.with(.init(tls: tls, authUser: "parley", authPassword: "s3cret")) { sink in
            let server = try Self.server(sink, security: .starttls(required: true),
                                         credentials: .init(username: "parley", password: "s3cret"))
            try await mailer.send(Self.message(), via: server)
            let mail = try #require(try sink.messages().first, "nothing delivered; sink log:\n\(sink.log)")
            #expect(mail.tls)
            #expect(mail.auth_user == "parley")
        }
    }

    @Test func wrongCredentialsFailPermanently() async throws {
        let tls = try TestTLSMaterial.make()
        try await SMTPSink.with(.init(tls: tls, authUser: "parley", authPassword: "s3cret")) { sink in
            let server = try Self.server(sink, security: .starttls(required: true),
                                         credentials: .init(username: "parley", password: "wrong"))
            let error = try #require(await failure(try Self.message(), via: server))
            #expect(error.stage == .authentication)
            #expect(error.code == 535)
            #expect(error.permanent)
            #expect(try sink.messages().isEmpty)
        }
    }

    @Test func credentialsAreNeverSentWithoutTLS() async throws {
        try await SMTPSink.with(.init(authUser: "parley", authPassword: "s3cret", authAllowPlaintext: true)) { sink in
            let server = try Self.server(sink, security: .none, credentials: .init(username: "parley", password: "s3cret"))
            let error = try #require(await failure(try Self.message(), via: server))
            #expect(error.stage == .authentication)
            #expect(error.code == nil)
            #expect(try sink.messages().isEmpty)
        }
    }

    @Test func aServerWithoutSTARTTLSFailsTheSendWhenTLSIsRequired() async throws {
        try await SMTPSink.with { sink in
            let error = try #require(await failure(try Self.message(), via: Self.server(sink, security: .starttls(required: true))))
            #expect(error.stage == .tls)
            #expect(error.isTransient)
            #expect(try sink.messages().isEmpty)
        }
    }

    @Test func aServerWithoutSTARTTLSStillGetsMailWhenTLSIsOptional() async throws {
        try await SMTPSink.with { sink in
            try await mailer.send(Self.message(), via: Self.server(sink, security: .starttls(required: false)))
            #expect(try sink.messages().map(\.tls) == [false])
        }
    }

    @Test func anUntrustedCertificateFailsTheSendTransiently() async throws {
        let tls = try TestTLSMaterial.make()
        try await SMTPSink.with(.init(tls: tls)) { sink in
            let server = try Self.server(sink, security: .starttls(required: true), trustCA: false)
            let error = try #require(await failure(try Self.message(), via: server))
            #expect(error.stage == .tls)
            #expect(error.isTransient)
            #expect(try sink.messages().isEmpty)
        }
    }

    @Test func aRejectedRecipientFailsTheMessagePermanentlyAndNothingIsDelivered() async throws {
        try await SMTPSink.with { sink in
            let envelope = try Self.message(to: ["alice@example.com", "reject@example.com"])
            let error = try #require(await failure(envelope, via: Self.server(sink, security: .none)))
            #expect(error.stage == .recipient)
            #expect(error.code == 550)
            #expect(error.enhancedCode == "5.1.1")
            #expect(error.permanent)
            #expect(error.text.contains("reject@example.com"))
            #expect(try sink.messages().isEmpty)
        }
    }

    @Test func aRefusedConnectionIsTransient() async throws {
        let server = SMTPServer(host: "127.0.0.1", port: try unusedLoopbackPort(), security: .none, connectTimeout: .seconds(5))
        let error = try #require(await failure(try Self.message(), via: server))
        #expect(error.stage == .connect)
        #expect(error.code == nil)
        #expect(error.isTransient)
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        try await SMTPSink.with(.init(mute: true)) { sink in
            var server = try Self.server(sink, security: .none)
            server.commandTimeout = .milliseconds(300)
            let started = ContinuousClock.now
            let error = try #require(await failure(try Self.message(), via: server))
            #expect(error.stage == .greeting)
            #expect(error.isTransient)
            #expect(error.text.contains("no reply"))
            // Not a timing test: only far below the 60-second default, i.e. the configured deadline was the one used
            // (a loaded machine took 5.8 s to notice 300 ms).
            #expect(ContinuousClock.now - started < .seconds(30))
        }
    }

    @Test func linesStartingWithADotSurviveTheTransfer() async throws {
        try await SMTPSink.with { sink in
            let body = "Subject: dots\nFrom: a@parley.test\n\n.\n..two dots\n.hidden\nmiddle . dot\r\n.\r\nend without newline"
            let envelope = MailEnvelope(from: "a@parley.test", recipients: ["b@parley.test"], message: Data(body.utf8))
            try await mailer.send(envelope, via: Self.server(sink, security: .none))
            let mail = try #require(try sink.messages().first, "nothing delivered; sink log:\n\(sink.log)")
            let expected = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
            #expect(String(decoding: mail.data, as: UTF8.self) == expected)
        }
    }

    @Test func addressesThatCouldInjectCommandsAreRefusedBeforeConnecting() async throws {
        let server = SMTPServer(host: "127.0.0.1", port: try unusedLoopbackPort(), security: .none)
        for (from, to) in [("a@parley.test\r\nRCPT TO:<evil@x.test>", "b@parley.test"), ("a@parley.test", "b@parley.test> NOTIFY=NEVER"),
                           ("<a@parley.test>", "b@parley.test"), ("a@parley.test", "")] {
            let envelope = MailEnvelope(from: from, recipients: [to], message: Data("Subject: x\r\n\r\nx\r\n".utf8))
            let error = try #require(await failure(envelope, via: server))
            #expect(error.stage == .message)
            #expect(error.permanent)
        }
    }

    @Test func multipleMessagesOverSeparateConnectionsAllArrive() async throws {
        try await SMTPSink.with { sink in
            let server = try Self.server(sink, security: .none)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<5 {
                    group.addTask { try await mailer.send(Self.message(to: ["user\(index)@example.com"]), via: server) }
                }
                try await group.waitForAll()
            }
            #expect(Set(try sink.messages().flatMap(\.rcpt_tos)) == Set((0..<5).map { "user\($0)@example.com" }))
        }
    }

    @Test func messagesOneAfterAnotherShareOneAuthenticatedTLSSession() async throws {
        let tls = try TestTLSMaterial.make()
        try await SMTPSink.with(.init(tls: tls, requireStartTLS: true, authUser: "parley", authPassword: "s3cret")) { sink in
            let server = try Self.server(sink, security: .starttls(required: true), credentials: .init(username: "parley", password: "s3cret"))
            for index in 0..<4 { try await mailer.send(Self.message(to: ["user\(index)@example.com"]), via: server) }
            // A refused recipient leaves the session usable for the next message.
            let refused = try #require(await failure(try Self.message(to: ["reject@example.com"]), via: server))
            #expect(refused.code == 550)
            try await mailer.send(Self.message(to: ["user4@example.com"]), via: server)
            let messages = try sink.messages()
            #expect(Set(messages.flatMap(\.rcpt_tos)) == Set((0..<5).map { "user\($0)@example.com" }))
            #expect(messages.allSatisfy { $0.tls && $0.auth_user == "parley" })
            #expect(Set(messages.compactMap(\.peer)).count == 1, "one connection for every message")
        }
    }

    @Test func aSessionTheServerClosedWhileParkedIsReplacedWithoutFailingTheMessage() async throws {
        // The sink closes the connection once the first message is accepted, while the client parks it; the second
        // message takes the parked session, finds it closed at MAIL FROM, and goes out on a new one.
        try await SMTPSink.with(.init(closeAfterMessage: true)) { sink in
            let server = try Self.server(sink, security: .none)
            try await mailer.send(Self.message(to: ["first@example.com"]), via: server)
            #expect(mailer.sessions.parkedCount == 1)
            try await mailer.send(Self.message(to: ["second@example.com"]), via: server)
            let messages = try sink.messages()
            #expect(Set(messages.flatMap(\.rcpt_tos)) == ["first@example.com", "second@example.com"])
            #expect(Set(messages.compactMap(\.peer)).count == 2)
        }
    }

    @Test func parkedSessionsCloseAfterTheirIdleTimeout() async throws {
        let mailer = NIOSMTPMailer(sessionIdleTimeout: .milliseconds(200))
        try await SMTPSink.with(.init(scripted: [:])) { sink in
            try await mailer.send(Self.message(), via: Self.server(sink, security: .none))
            // Nobody closes it: the idle timeout does.
            let deadline = ContinuousClock.now + .seconds(10)
            while sink.commands().last != "QUIT", ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(sink.commands().last == "QUIT")
            #expect(mailer.sessions.parkedCount == 0)
        }
    }
}

/// `NIOSMTPMailer` against a fake server that says exactly what each test needs, however odd.
@Suite("SMTP client against misbehaving servers")
struct SMTPClientScriptedTests {
    let mailer = NIOSMTPMailer()

    /// `sessionEnds`: whether the session ends with QUIT (not after a broken connection), waited for before returning.
    func send(_ replies: [String: String], sessionEnds: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> (error: MailDeliveryError?, commands: [String]) {
        try await SMTPSink.with(.init(scripted: replies)) { sink in
            let envelope = try SMTPClientTests.message()
            let client = SMTPClientTests()
            let error = await client.failure(envelope, via: try SMTPClientTests.server(sink, security: .none),
                                             expectFailure: false, sourceLocation: sourceLocation)
            // A usable session is parked for the next message (just after the send returned); closing it says QUIT.
            let deadline = ContinuousClock.now + .seconds(10)
            while sessionEnds, sink.commands().last != "QUIT", ContinuousClock.now < deadline {
                client.mailer.closeIdleSessions()
                try await Task.sleep(for: .milliseconds(20))
            }
            return (error, sink.commands())
        }
    }

    @Test func aServerThatDoesNotKnowEHLOGetsHELO() async throws {
        let (error, commands) = try await send(["EHLO": "502 5.5.1 command not implemented", "HELO": "250 scripted.parley.test"])
        #expect(error == nil)
        #expect(commands.map { $0.split(separator: " ")[0] } == ["EHLO", "HELO", "MAIL", "RCPT", "DATA", "QUIT"])
        #expect(commands.first { $0.hasPrefix("MAIL") } == "MAIL FROM:<notifications@parley.test>")
    }

    @Test func advertisedExtensionsAddMailParametersOnlyWhenNeeded() async throws {
        let (error, commands) = try await send(["EHLO": "250-scripted.parley.test\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250 SMTPUTF8"])
        #expect(error == nil)
        let mail = try #require(commands.first { $0.hasPrefix("MAIL") })
        #expect(mail.hasPrefix("MAIL FROM:<notifications@parley.test> SIZE="))
        #expect(!mail.contains("BODY=8BITMIME"))  // the MIME builder's output is 7-bit
        #expect(!mail.contains("SMTPUTF8"))  // the addresses are ASCII
    }

    @Test func aMessageOverTheAdvertisedSizeIsRefusedBeforeSending() async throws {
        let (error, commands) = try await send(["EHLO": "250-scripted.parley.test\r\n250 SIZE 100"])
        #expect(error?.stage == .message)
        #expect(error?.permanent == true)
        #expect(!commands.contains { $0.hasPrefix("MAIL") })
    }

    @Test func aSTARTTLSReplyFollowedByInjectedPlaintextFailsTheConnection() async throws {
        try await SMTPSink.with(.init(scripted: [
            "EHLO": "250-scripted.parley.test\r\n250 STARTTLS",
            "STARTTLS": "220 go ahead\r\n250-injected.example\r\n250 AUTH PLAIN",
        ])) { sink in
            let server = try SMTPClientTests.server(sink, security: .starttls(required: true),
                                                    credentials: .init(username: "parley", password: "s3cret"))
            let error = try #require(await SMTPClientTests().failure(try SMTPClientTests.message(), via: server))
            #expect(error.stage == .tls)
            #expect(error.isTransient)
            #expect(error.text.contains("after its STARTTLS reply"))
            #expect(!sink.commands().contains { $0.hasPrefix("AUTH") || $0.hasPrefix("MAIL") })
        }
    }

    @Test func aBusyGreetingIsTransient() async throws {
        let (error, commands) = try await send(["greeting": "421 4.3.2 too busy, try later"])
        #expect(error?.stage == .greeting)
        #expect(error?.code == 421)
        #expect(error?.enhancedCode == "4.3.2")
        #expect(error?.isTransient == true)
        #expect(!commands.contains { $0.hasPrefix("MAIL") })
    }

    @Test func aTemporarilyRefusedRecipientIsTransient() async throws {
        let (error, commands) = try await send(["RCPT": "452 4.2.2 mailbox full"])
        #expect(error?.stage == .recipient)
        #expect(error?.code == 452)
        #expect(error?.isTransient == true)
        #expect(!commands.contains("DATA"))
        // The refused transaction is reset, so the session can carry the next message.
        #expect(Array(commands.suffix(2)) == ["RSET", "QUIT"])
    }

    @Test func aMessageRefusedAfterItsDataIsPermanent() async throws {
        let (error, _) = try await send(["DATA_END": "554-5.7.1 message refused:\r\n554 5.7.1 looks like spam"])
        #expect(error?.stage == .data)
        #expect(error?.code == 554)
        #expect(error?.permanent == true)
        #expect(error?.text.contains("looks like spam") == true)
    }

    @Test func aGarbledReplyFailsTransiently() async throws {
        let (error, _) = try await send(["MAIL": "hello there"], sessionEnds: false)
        #expect(error?.stage == .sender)
        #expect(error?.code == nil)
        #expect(error?.isTransient == true)
    }
}

/// Python's parser returns CRLF line endings in decoded parts; compare with LF.
func normalized(_ text: String?) -> String? {
    text?.replacingOccurrences(of: "\r\n", with: "\n")
}
