import Foundation
import ParleyCore

/// A notification email, rendered as RFC 5322 message bytes with MIME (RFC 2045–2047) for the `email` channel.
///
/// `render()` produces: `Date` (RFC 5322 format, UTC), `From`, optional `Reply-To`, `To`, `Subject`
/// (RFC 2047 encoded-words when it is not plain ASCII), `Message-ID`, `MIME-Version`, optional
/// `List-Unsubscribe` (with `List-Unsubscribe-Post` for one-click, RFC 8058) and `X-` headers, then a
/// `multipart/alternative` body with a `text/plain` and a `text/html` part, or a single part when only one
/// exists. Bodies are UTF-8, quoted-printable (lines of at most 76 characters) or base64; header lines are
/// folded to at most 76 characters where they have room to fold.
///
/// Every header value is checked before anything is rendered: CR, LF or NUL anywhere (header injection),
/// an invalid address, a custom header not named `X-…`, or a message without a body throws
/// `ParleyError.invalidEmail`. Nothing the caller passes can add a header or a MIME part.
public struct MIMEMessage: Sendable, Equatable {
    /// An address with an optional display name (`"Parley" <noreply@example.com>`).
    public struct Mailbox: Sendable, Equatable {
        /// The bare address (`user@example.com`), as `MailEnvelope.isValidAddress` accepts it.
        public var address: String
        /// Shown by mail clients; quoted or encoded as needed. Nil or empty renders the bare address.
        public var displayName: String?

        public init(_ address: String, displayName: String? = nil) {
            self.address = address
            self.displayName = displayName
        }
    }

    /// A custom header; its name must start with `X-`.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The Content-Transfer-Encoding of the body parts.
    public enum BodyEncoding: String, Sendable, Equatable {
        /// Readable for mostly-ASCII text; lines at most 76 characters with soft breaks.
        case quotedPrintable = "quoted-printable"
        /// Compact for mostly non-ASCII text (CJK, emoji); lines of 76 characters.
        case base64
    }

    public var from: Mailbox
    public var to: [Mailbox]
    public var replyTo: Mailbox?
    public var subject: String
    public var date: Date
    /// The `Message-ID` without angle brackets (`id@domain`); see `messageID(notificationID:user:domain:)`.
    public var messageID: String
    public var text: String?
    public var html: String?
    /// The `List-Unsubscribe` value: one or more `<…>` URIs, comma-separated (`<https://…/u/abc>, <mailto:…>`).
    public var listUnsubscribe: String?
    /// Adds `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058); needs an https `listUnsubscribe`.
    public var listUnsubscribeOneClick: Bool
    public var extraHeaders: [Header]
    public var bodyEncoding: BodyEncoding

    public init(
        from: Mailbox, to: [Mailbox], subject: String, date: Date, messageID: String, text: String?, html: String?,
        replyTo: Mailbox? = nil, listUnsubscribe: String? = nil, listUnsubscribeOneClick: Bool = false,
        extraHeaders: [Header] = [], bodyEncoding: BodyEncoding = .quotedPrintable
    ) {
        self.from = from
        self.to = to
        self.replyTo = replyTo
        self.subject = subject
        self.date = date
        self.messageID = messageID
        self.text = text
        self.html = html
        self.listUnsubscribe = listUnsubscribe
        self.listUnsubscribeOneClick = listUnsubscribeOneClick
        self.extraHeaders = extraHeaders
        self.bodyEncoding = bodyEncoding
    }

    /// The message id of one notification to one user: `notification-id.user@domain`. Characters outside
    /// letters, digits, `-` and `_` in the ids are written as `=XX` (their UTF-8 bytes in hex), so the id is
    /// a valid, unique `dot-atom` however the ids are spelled.
    public static func messageID(notificationID: String, user: UserID, domain: String) -> String {
        "\(escapeIDPart(notificationID)).\(escapeIDPart(user.rawValue))@\(domain)"
    }

    /// The message bytes (CRLF line endings), ready for `MailEnvelope.message`.
    /// - Throws: `ParleyError.invalidEmail` when a header value or address is unsafe or invalid.
    public func render() throws -> Data {
        try render(makeBoundary: Self.randomBoundary)
    }

    /// The SMTP envelope for this message: `sender` (default: the `From` address) to every `To` address.
    public func envelope(sender: String? = nil) throws -> MailEnvelope {
        let sender = sender ?? from.address
        guard MailEnvelope.isValidAddress(sender) else { throw ParleyError.invalidEmail("sender", "is not a valid address") }
        return MailEnvelope(from: sender, recipients: to.map(\.address), message: try render())
    }

    func render(makeBoundary: () -> String) throws -> Data {
        try validate()
        var lines = [
            "Date: \(Self.rfc5322Date(date))",
            try Self.addressHeader("From", [from]),
        ]
        if let replyTo { lines.append(try Self.addressHeader("Reply-To", [replyTo])) }
        lines.append(try Self.addressHeader("To", to))
        lines.append(Self.unstructuredHeader("Subject", subject))
        lines.append("Message-ID: <\(messageID)>")
        lines.append("MIME-Version: 1.0")
        if let listUnsubscribe {
            lines.append(MIMEHeaderEncoding.fold("List-Unsubscribe: \(listUnsubscribe)"))
            if listUnsubscribeOneClick { lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click") }
        }
        for header in extraHeaders { lines.append(Self.unstructuredHeader(header.name, header.value)) }

        let parts = [text.map { ("text/plain", $0) }, html.map { ("text/html", $0) }].compactMap { $0 }
        let encodedParts = parts.map { type, content in
            (headers: ["Content-Type: \(type); charset=utf-8", "Content-Transfer-Encoding: \(bodyEncoding.rawValue)"],
             body: MIMEBodyEncoding.encode(content, as: bodyEncoding))
        }
        if encodedParts.count == 1, let part = encodedParts.first {
            lines += part.headers
            lines.append("")
            lines.append(part.body)
        } else {
            var boundary = makeBoundary()
            while encodedParts.contains(where: { $0.body.contains(boundary) }) { boundary = makeBoundary() }
            lines.append(MIMEHeaderEncoding.fold("Content-Type: multipart/alternative; boundary=\"\(boundary)\""))
            lines.append("")
            for part in encodedParts {
                lines.append("--\(boundary)")
                lines += part.headers
                lines.append("")
                lines.append(part.body)
            }
            lines.append("--\(boundary)--")
        }
        return Data((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    private func validate() throws {
        try Self.checkMailbox(from, field: "from")
        if let replyTo { try Self.checkMailbox(replyTo, field: "reply_to") }
        guard !to.isEmpty else { throw ParleyError.invalidEmail("to", "needs at least one recipient") }
        for mailbox in to { try Self.checkMailbox(mailbox, field: "to") }
        try Self.checkHeaderValue(subject, field: "subject")
        guard messageID.unicodeScalars.allSatisfy(\.isASCII), MailEnvelope.isValidAddress(messageID) else {
            throw ParleyError.invalidEmail("message_id", "must look like id@domain, in ASCII, without angle brackets")
        }
        if let listUnsubscribe {
            try Self.checkHeaderValue(listUnsubscribe, field: "list_unsubscribe")
            let isURIList = listUnsubscribe.split(separator: ",").allSatisfy { item in
                let uri = item.trimmingCharacters(in: .whitespaces)
                return uri.count > 2 && uri.hasPrefix("<") && uri.hasSuffix(">") && !uri.dropFirst().dropLast().contains(where: { "<> ".contains($0) })
            }
            guard listUnsubscribe.unicodeScalars.allSatisfy(\.isASCII), isURIList else {
                throw ParleyError.invalidEmail("list_unsubscribe", "must be ASCII URIs in angle brackets, separated by commas")
            }
            if listUnsubscribeOneClick, !listUnsubscribe.contains("<https://") {
                throw ParleyError.invalidEmail("list_unsubscribe", "one-click unsubscribe needs an https URI")
            }
        }
        for header in extraHeaders {
            let name = header.name
            let isFieldName = name.unicodeScalars.allSatisfy { $0.value >= 33 && $0.value <= 126 && $0 != ":" }
            guard name.lowercased().hasPrefix("x-"), name.count > 2, name.count <= 64, isFieldName else {
                throw ParleyError.invalidEmail("headers", "custom header names must start with 'X-' and be printable ASCII without ':'")
            }
            try Self.checkHeaderValue(header.value, field: name)
        }
        guard text != nil || html != nil else { throw ParleyError.invalidEmail("body", "needs a text or an HTML part") }
    }

    private static func checkMailbox(_ mailbox: Mailbox, field: String) throws {
        guard MailEnvelope.isValidAddress(mailbox.address) else {
            throw ParleyError.invalidEmail(field, "\(mailbox.address.prefix(100).debugDescription) is not a valid address")
        }
        if let name = mailbox.displayName { try checkHeaderValue(name, field: field) }
    }

    /// Refuses what would end a header line early: CR, LF and NUL (header injection).
    private static func checkHeaderValue(_ value: String, field: String) throws {
        guard !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
            throw ParleyError.invalidEmail(field, "must not contain line breaks or NUL")
        }
    }

    private static func addressHeader(_ name: String, _ mailboxes: [Mailbox]) throws -> String {
        let rendered = mailboxes.map { mailbox -> String in
            guard let displayName = mailbox.displayName, !displayName.isEmpty else { return mailbox.address }
            return "\(MIMEHeaderEncoding.phrase(displayName)) <\(mailbox.address)>"
        }
        return MIMEHeaderEncoding.fold("\(name): " + rendered.joined(separator: ", "))
    }

    private static func unstructuredHeader(_ name: String, _ value: String) -> String {
        MIMEHeaderEncoding.fold("\(name): " + MIMEHeaderEncoding.unstructured(value))
    }

    private static func randomBoundary() -> String {
        // `=_` cannot occur in quoted-printable or base64 output, so the boundary can never collide with a body.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return "=_Parley_" + String((0..<28).map { _ in alphabet.randomElement()! })
    }

    private static func escapeIDPart(_ part: String) -> String {
        var escaped = ""
        for byte in part.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 128 && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_") {
                escaped.unicodeScalars.append(scalar)
            } else {
                escaped += "=" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return escaped.isEmpty ? "_" : escaped
    }

    /// `Thu, 01 Jan 2026 00:00:00 +0000` (RFC 5322 §3.3), in UTC.
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        let parts = calendar.dateComponents([.weekday, .day, .month, .year, .hour, .minute, .second], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { String(value ?? 0).leftPadded(to: 2) }
        return "\(days[(parts.weekday ?? 1) - 1]), \(two(parts.day)) \(months[(parts.month ?? 1) - 1]) \(parts.year ?? 1970) "
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) +0000"
    }
}

/// RFC 2047 encoded-words, quoted display names and header folding.
enum MIMEHeaderEncoding {
    /// Longest header line written when it can be folded (RFC 2047 §2 asks 76 for lines with encoded-words).
    static let lineLimit = 76
    /// UTF-8 bytes per encoded-word: 36 bytes are 48 base64 characters, 60 with `=?UTF-8?B?` and `?=`.
    static let bytesPerEncodedWord = 36

    /// An unstructured value (`Subject`, `X-` headers): as is when it is plain printable ASCII (and cannot be
    /// mistaken for encoded-words), otherwise as encoded-words separated by spaces.
    static func unstructured(_ value: String) -> String {
        let isPlain = value.unicodeScalars.allSatisfy { ($0.value >= 32 && $0.value <= 126) || $0 == "\t" }
        let hasLongWord = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).contains { $0.utf8.count > lineLimit - 10 }
        if isPlain && !value.contains("=?") && !hasLongWord { return value }
        return encodedWords(value)
    }

    /// A display name: a quoted-string when it is ASCII, encoded-words otherwise.
    static func phrase(_ name: String) -> String {
        let isPlain = name.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value <= 126 }
        if isPlain && !name.contains("=?") && name.utf8.count <= lineLimit - 10 {
            let escaped = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\""
        }
        return encodedWords(name)
    }

    /// `=?UTF-8?B?…?=` words of at most 36 UTF-8 bytes each, split between characters (between Unicode
    /// scalars for a character longer than that), joined with spaces that decoders drop.
    static func encodedWords(_ text: String) -> String {
        var chunks: [[UInt8]] = []
        var current: [UInt8] = []
        func append(_ bytes: [UInt8]) {
            if current.count + bytes.count > bytesPerEncodedWord, !current.isEmpty {
                chunks.append(current)
                current = []
            }
            current += bytes
        }
        for character in text {
            let bytes = Array(String(character).utf8)
            if bytes.count <= bytesPerEncodedWord {
                append(bytes)
            } else {
                for scalar in character.unicodeScalars { append(Array(String(scalar).utf8)) }
            }
        }
        if !current.isEmpty { chunks.append(current) }
        if chunks.isEmpty { return "" }
        return chunks.map { "=?UTF-8?B?\(Data($0).base64EncodedString())?=" }.joined(separator: " ")
    }

    /// Folds a header line (`Name: value`) before spaces so that lines stay within `lineLimit` where a space
    /// allows it; unfolding (removing the inserted CRLFs) gives the line back unchanged.
    static func fold(_ line: String) -> String {
        var pieces: [Substring] = []
        var start = line.startIndex
        for index in line.indices where index != line.startIndex && (line[index] == " " || line[index] == "\t") {
            pieces.append(line[start..<index])
            start = index
        }
        pieces.append(line[start...])

        var output = ""
        var current = ""
        for piece in pieces {
            let hasContent = piece.contains { $0 != " " && $0 != "\t" }
            if current.utf8.count + piece.utf8.count > lineLimit, hasContent, current.contains(where: { $0 != " " && $0 != "\t" }) {
                output += current + "\r\n"
                current = String(piece)
            } else {
                current += piece
            }
        }
        return output + current
    }
}

/// Quoted-printable (RFC 2045 §6.7) and base64 bodies with CRLF line breaks.
enum MIMEBodyEncoding {
    /// Longest encoded line, the soft-break `=` included.
    static let lineLimit = 76

    static func encode(_ content: String, as encoding: MIMEMessage.BodyEncoding) -> String {
        let lines = normalizedLines(content)
        switch encoding {
        case .quotedPrintable:
            return lines.map(quotedPrintableLine).joined(separator: "\r\n")
        case .base64:
            let encoded = Array(Data(lines.joined(separator: "\r\n").utf8).base64EncodedString().utf8)
            return stride(from: 0, to: encoded.count, by: lineLimit)
                .map { String(decoding: encoded[$0..<min($0 + lineLimit, encoded.count)], as: UTF8.self) }
                .joined(separator: "\r\n")
        }
    }

    /// The text's lines, whatever its line endings (CRLF, LF or CR).
    static func normalizedLines(_ content: String) -> [String] {
        content.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// One line of text as quoted-printable lines joined by soft breaks (`=` CRLF), each at most 76 characters.
    static func quotedPrintableLine(_ line: String) -> String {
        let bytes = Array(line.utf8)
        var output = ""
        var length = 0
        for (offset, byte) in bytes.enumerated() {
            let isLast = offset == bytes.count - 1
            let token: String
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                // Whitespace at the end of a line would be lost in transport, so it is encoded there.
                token = isLast ? hex(byte) : String(UnicodeScalar(byte))
            case 33...126 where byte != UInt8(ascii: "="):
                token = String(UnicodeScalar(byte))
            default:
                token = hex(byte)
            }
            // Keep room for the soft break's `=` unless this is the line's last token.
            let room = isLast ? lineLimit : lineLimit - 1
            if length + token.count > room {
                output += "=\r\n"
                length = 0
            }
            output += token
            length += token.count
        }
        return output
    }

    private static func hex(_ byte: UInt8) -> String {
        "=" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

// The error of the email builder, beside it because only the email channel raises it.
extension ParleyError {
    /// A field of a notification email is unsafe or invalid (a line break in a header, an invalid address).
    public static func invalidEmail(_ field: String, _ reason: String) -> ParleyError {
        ParleyError(.unprocessable, code: "notifications.invalid_email", message: "Email field '\(field)' \(reason).",
                    details: ["field": .string(field)])
    }
}
