import ParleyTestSupport
import Foundation
import ParleyCore
import Testing

@testable import Notifications

/// The RFC 5322/MIME builder of the email channel, on its own (no server).
@Suite("MIME message builder")
struct MIMEMessageTests {
    static func message(
        subject: String = "Your weekly digest", text: String? = "Plain text", html: String? = "<p>HTML</p>",
        from: MIMEMessage.Mailbox = .init("notifications@parley.test", displayName: "Parley"),
        to: [MIMEMessage.Mailbox] = [.init("alice@example.com")], listUnsubscribe: String? = nil,
        extraHeaders: [MIMEMessage.Header] = [], encoding: MIMEMessage.BodyEncoding = .quotedPrintable
    ) -> MIMEMessage {
        MIMEMessage(
            from: from, to: to, subject: subject, date: Date(timeIntervalSince1970: 1_767_225_600),
            messageID: "ntf_1.alice@parley.test", text: text, html: html, listUnsubscribe: listUnsubscribe,
            extraHeaders: extraHeaders, bodyEncoding: encoding
        )
    }

    static func rendered(_ message: MIMEMessage) throws -> String {
        String(decoding: try message.render(), as: UTF8.self)
    }

    /// The header block, unfolded, by lower-cased name.
    static func headers(_ rendered: String) -> [String: String] {
        let block = rendered.components(separatedBy: "\r\n\r\n")[0].replacingOccurrences(of: "\r\n ", with: " ")
        var result: [String: String] = [:]
        for line in block.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].dropFirst())
        }
        return result
    }

    @Test(arguments: [
        message(subject: "Hi\r\nBcc: victim@example.com"),
        message(subject: "Hi\nBcc: victim@example.com"),
        message(subject: "Hi\rBcc: victim@example.com"),
        message(from: .init("notifications@parley.test", displayName: "Parley\r\nBcc: victim@example.com")),
        message(to: [.init("alice@example.com>\r\nBcc: <victim@example.com")]),
        message(to: [.init("alice@example.com, victim@example.com")]),
        message(to: [.init("\"alice\"@example.com")]),
        message(to: []),
        message(listUnsubscribe: "<https://parley.test/u>\r\nBcc: victim@example.com"),
        message(extraHeaders: [.init("X-Campaign", "a\r\nBcc: victim@example.com")]),
        message(extraHeaders: [.init("Bcc", "victim@example.com")]),
        message(extraHeaders: [.init("X-Bad: name", "value")]),
        message(text: nil, html: nil),
    ])
    func headerInjectionAndInvalidFieldsAreRefused(_ message: MIMEMessage) throws {
        let error = #expect(throws: ParleyError.self) { try message.render() }
        #expect(error?.code == "notifications.invalid_email")
    }

    @Test func quotedPrintableLinesStayWithin76CharactersAndDecodeBack() throws {
        let long = String(repeating: "word ", count: 40) + String(repeating: "x", count: 200) + " trailing space \t"
        let text = [long, "naïve café = 100 % 😀 " + String(repeating: "é", count: 60), "", ".dot", "end"].joined(separator: "\n")
        let rendered = try Self.rendered(Self.message(text: text, html: "<p>" + long + "</p>"))
        for line in rendered.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 76, "line too long: \(line)")
        }
        #expect(rendered.contains("Content-Transfer-Encoding: quoted-printable"))
        let body = try #require(Self.part(of: rendered, type: "text/plain"))
        #expect(Self.decodeQuotedPrintable(body) == text.replacingOccurrences(of: "\n", with: "\r\n"))
    }

    @Test func base64BodiesUse76CharacterLines() throws {
        let text = String(repeating: "你好，世界。", count: 40) + "\nsecond line"
        let rendered = try Self.rendered(Self.message(text: text, html: nil, encoding: .base64))
        for line in rendered.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 76) }
        let body = try #require(Self.part(of: rendered, type: "text/plain"))
        let decoded = try #require(Data(base64Encoded: body.replacingOccurrences(of: "\r\n", with: "")))
        #expect(String(decoding: decoded, as: UTF8.self) == text.replacingOccurrences(of: "\n", with: "\r\n"))
    }

    @Test func aNonASCIISubjectIsEncodedAsFoldedEncodedWords() throws {
        let subject = "Grüße, Zoë — 你好 👋🏽 👨‍👩‍👧 a subject long enough to need folding over several lines of the header"
        let rendered = try Self.rendered(Self.message(subject: subject))
        let lines = rendered.components(separatedBy: "\r\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("Subject: ") })
        var subjectLines = [lines[start]]
        for line in lines[(start + 1)...] {
            guard line.hasPrefix(" ") else { break }
            subjectLines.append(line)
        }
        #expect(subjectLines.count > 1)
        for line in subjectLines { #expect(line.utf8.count <= 76) }
        let words = subjectLines.joined().dropFirst("Subject: ".count).split(separator: " ")
        var decoded = Data()
        for word in words {
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            let payload = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
            let bytes = try #require(Data(base64Encoded: String(payload)))
            #expect(String(data: bytes, encoding: .utf8) != nil, "an encoded-word splits a character")
            decoded += bytes
        }
        #expect(String(decoding: decoded, as: UTF8.self) == subject)
    }

    @Test func aPlainASCIISubjectStaysReadableAndFolds() throws {
        let subject = "You have new messages from " + Array(repeating: "someone", count: 12).joined(separator: ", ")
        let rendered = try Self.rendered(Self.message(subject: subject))
        #expect(Self.headers(rendered)["subject"] == subject)
        #expect(rendered.contains("Subject: You have new messages"))
        #expect(rendered.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 })
    }

    @Test func displayNamesAreQuotedOrEncoded() throws {
        let rendered = try Self.rendered(Self.message(
            from: .init("notifications@parley.test", displayName: "Doe, John \"JD\" \\ Co."),
            to: [.init("zoe@example.com", displayName: "Zoë"), .init("bob@example.com")]
        ))
        let headers = Self.headers(rendered)
        #expect(headers["from"] == "\"Doe, John \\\"JD\\\" \\\\ Co.\" <notifications@parley.test>")
        let zoe = "=?UTF-8?B?\(Data("Zoë".utf8).base64EncodedString())?="
        #expect(headers["to"] == "\(zoe) <zoe@example.com>, bob@example.com")
    }

    @Test func dateMessageIDAndListHeadersFollowTheRFCs() throws {
        var message = Self.message(listUnsubscribe: "<https://parley.test/u/abc>, <mailto:unsubscribe@parley.test?subject=abc>",
                                   extraHeaders: [.init("X-Parley-Notification", "ntf_1")])
        message.listUnsubscribeOneClick = true
        message.messageID = MIMEMessage.messageID(notificationID: "ntf 1/é", user: UserID(trusted: "alice.b@x:1"), domain: "mail.parley.test")
        let headers = Self.headers(try Self.rendered(message))
        #expect(headers["date"] == "Thu, 01 Jan 2026 00:00:00 +0000")
        #expect(headers["message-id"] == "<ntf=201=2F=C3=A9.alice=2Eb=40x=3A1@mail.parley.test>")
        #expect(headers["mime-version"] == "1.0")
        #expect(headers["list-unsubscribe"] == "<https://parley.test/u/abc>, <mailto:unsubscribe@parley.test?subject=abc>")
        #expect(headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click")
        #expect(headers["x-parley-notification"] == "ntf_1")
    }

    @Test func onlyTextGivesASinglePartMessage() throws {
        let rendered = try Self.rendered(Self.message(html: nil))
        let headers = Self.headers(rendered)
        #expect(headers["content-type"] == "text/plain; charset=utf-8")
        #expect(!rendered.contains("multipart"))
        let htmlOnly = Self.headers(try Self.rendered(Self.message(text: nil)))
        #expect(htmlOnly["content-type"] == "text/html; charset=utf-8")
    }

    @Test func theBoundaryIsNeverOneThatAppearsInTheContent() throws {
        var boundaries = ["collide", "fresh-boundary"].makeIterator()
        let message = Self.message(text: "this text has collide in it")
        let rendered = String(decoding: try message.render(makeBoundary: { boundaries.next()! }), as: UTF8.self)
        #expect(Self.headers(rendered)["content-type"] == "multipart/alternative; boundary=\"fresh-boundary\"")
        #expect(rendered.hasSuffix("--fresh-boundary--\r\n"))
        let random = try Self.rendered(Self.message())
        let boundary = try #require(Self.headers(random)["content-type"]?.split(separator: "\"").dropFirst().first)
        #expect(random.components(separatedBy: "--\(boundary)").count == 4)
    }

    /// The body of the part with this content type (single-part or inside a multipart).
    static func part(of rendered: String, type: String) -> String? {
        guard let header = rendered.range(of: "Content-Type: \(type)"),
              let start = rendered.range(of: "\r\n\r\n", range: header.upperBound..<rendered.endIndex) else { return nil }
        let rest = rendered[start.upperBound...]
        if let end = rest.range(of: "\r\n--") { return String(rest[..<end.lowerBound]) }
        return rest.hasSuffix("\r\n") ? String(rest.dropLast()) : String(rest)  // "\r\n" is one Character
    }

    static func decodeQuotedPrintable(_ encoded: String) -> String {
        var bytes: [UInt8] = []
        let input = Array(encoded.replacingOccurrences(of: "=\r\n", with: "").utf8)
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "="), index + 2 < input.count,
               let value = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
