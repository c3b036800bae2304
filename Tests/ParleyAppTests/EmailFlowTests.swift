import Foundation
import HummingbirdTesting
import Notifications
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Email end to end: a template with an email variant, a trigger, the delivery job, and a real SMTP server
/// (aiosmtpd, over STARTTLS) that receives and parses the message; the first provider is down, so the
/// delivery fails over to the second.
@Suite(.serialized) struct EmailFlowTests {
    @Test func aNotificationArrivesByEmailThroughTheSecondProviderWhenTheFirstIsDown() async throws {
        let tls = try TestTLSMaterial.make()
        var options = SMTPSink.Options()
        options.tls = tls
        options.requireStartTLS = true
        let deadPort = try unusedLoopbackPort()
        try await SMTPSink.with(options) { sink in
            try await TestApp.run(.sqlite) { app, client in
                let configured = try await client.json(.put, "/v1/admin/notifications/channels/email", bearer: app.adminKey, body: [
                    "settings": ["from": "no-reply@example.com", "from_name": "Example Shop"],
                    "providers": [
                        ["name": "primary", "type": "smtp", "config": ["host": "127.0.0.1", "port": .int(deadPort), "security": "none"]],
                        ["name": "backup", "type": "smtp",
                         "config": ["host": "127.0.0.1", "port": .int(sink.port), "security": "starttls", "trusted_ca_pem": .string(tls.caPEM)]],
                    ],
                ])
                #expect(configured.status == .ok, "\(configured.body)")
                _ = try await app.userToken("alice", client: client)
                let bob = try await app.userToken("bob", client: client)
                _ = try await app.userToken("carol", client: client)
                for (user, address) in [("alice", "alice@example.com"), ("bob", "bob@example.com")] {
                    _ = try await client.json(.put, "/v1/users/\(user)/email", bearer: app.serverKey, body: ["email": .string(address)])
                }
                // Bob turned order emails off; Carol has no address.
                _ = try await client.json(.put, "/v1/me/notification-preferences", bearer: bob, body: ["channels": ["general": ["email": false]]])
                _ = try await client.json(.put, "/v1/admin/notifications/templates/order/email/en", bearer: app.adminKey, body: [
                    "subject": "Your order {{number}} shipped ✓", "text": "Hi {{name}},\nyour order {{number}} is on its way.",
                    "html": "<p>Hi {{name}},</p><p>your order <b>{{number}}</b> is on its way.</p>",
                ])
                let triggered = try await client.json(.post, "/v1/notifications", bearer: app.serverKey, body: [
                    "template": "order", "recipients": ["alice", "bob", "carol"], "data": ["name": "Alice & co", "number": "A-17"],
                ])
                #expect(triggered.status == .accepted, "\(triggered.body)")
                try await app.drainJobs()

                let mails = try sink.messages()
                #expect(mails.count == 1)
                let mail = try #require(mails.first)
                #expect(mail.rcpt_tos == ["alice@example.com"])
                #expect(mail.mail_from == "no-reply@example.com")
                #expect(mail.tls)
                #expect(mail.subject == "Your order A-17 shipped ✓")
                #expect(mail.text?.contains("your order A-17 is on its way.") == true)
                #expect(mail.html?.contains("<b>A-17</b>") == true)
                // HTML-escaped in the HTML part, as is in the text part.
                #expect(mail.html?.contains("Alice &amp; co") == true)
                #expect(mail.text?.contains("Hi Alice & co,") == true)

                let id = try #require(triggered.body["id"]?.stringValue)
                let deliveries = try await client.json(.get, "/v1/admin/notifications/\(id)/deliveries/alice", bearer: app.serverKey)
                let email = deliveries.body["items"]?.arrayValues?.first { $0["channel"] == "email" }
                #expect(email?["state"] == "sent")
                let bobs = try await client.json(.get, "/v1/admin/notifications/\(id)/deliveries/bob", bearer: app.serverKey)
                #expect(bobs.body["items"]?.arrayValues?.contains { $0["channel"] == "email" } != true)
            }
        }
    }

    @Test func aRecipientTheServerRefusesFailsForGoodWithTheServersReason() async throws {
        try await SMTPSink.with { sink in
            try await TestApp.run(.sqlite) { app, client in
                _ = try await client.json(.put, "/v1/admin/notifications/channels/email", bearer: app.adminKey, body: [
                    "settings": ["from": "no-reply@example.com"],
                    "providers": [["name": "only", "type": "smtp",
                                   "config": ["host": "127.0.0.1", "port": .int(sink.port), "security": "none"]]],
                ])
                _ = try await app.userToken("dave", client: client)
                _ = try await client.json(.put, "/v1/users/dave/email", bearer: app.serverKey, body: ["email": "reject@example.com"])
                _ = try await client.json(.put, "/v1/admin/notifications/templates/ping/email/en", bearer: app.adminKey,
                                          body: ["subject": "Ping", "text": "ping"])
                let triggered = try await client.json(.post, "/v1/notifications", bearer: app.serverKey,
                                                      body: ["template": "ping", "recipients": ["dave"]])
                try await app.drainJobs()
                #expect(try sink.messages().isEmpty)
                let id = try #require(triggered.body["id"]?.stringValue)
                let deliveries = try await client.json(.get, "/v1/admin/notifications/\(id)/deliveries/dave", bearer: app.serverKey)
                let email = try #require(deliveries.body["items"]?.arrayValues?.first { $0["channel"] == "email" })
                #expect(email["state"] == "failed")
                #expect(email["attempts"] == 1)
                #expect(email["reason"]?.stringValue?.contains("55") == true)
            }
        }
    }
}
