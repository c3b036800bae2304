import Foundation
import ParleyCore

/// One reply from an SMTP server (RFC 5321 §4.2): a three-digit code and one or more lines of text.
/// A multi-line reply (`250-first`, `250-second`, `250 last`) arrives as one `SMTPReply`.
struct SMTPReply: Sendable, Equatable {
    var code: Int
    /// The text of each line, without the code and the `-`/space separator.
    var lines: [String]

    var isPositive: Bool { (200..<300).contains(code) }
    var isIntermediate: Bool { (300..<400).contains(code) }
    var isPermanentFailure: Bool { (500..<600).contains(code) }

    /// The lines joined for error messages and logs.
    var text: String { lines.joined(separator: " ").trimmingCharacters(in: .whitespaces) }

    /// The enhanced status code (RFC 3463, `5.1.1`) at the start of the first line, if any.
    var enhancedCode: String? {
        guard let first = lines.first?.split(separator: " ", maxSplits: 1).first else { return nil }
        let parts = first.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let leading = parts.first, ["2", "4", "5"].contains(leading),
              parts.allSatisfy({ part in (1...3).contains(part.count) && part.allSatisfy(\.isASCIIDigit) })
        else { return nil }
        return String(first)
    }

    /// The failure this reply means at `stage`: permanent for `5xx`, transient for anything else.
    func failure(at stage: MailDeliveryError.Stage, context: String? = nil) -> MailDeliveryError {
        let detail = context.map { "\($0): \(text)" } ?? text
        return MailDeliveryError(stage: stage, code: code, enhancedCode: enhancedCode, text: detail, permanent: isPermanentFailure)
    }
}

/// The SMTP service extensions a server advertised in its EHLO reply (RFC 5321 §4.1.1.1), by keyword.
struct SMTPCapabilities: Sendable, Equatable {
    /// Upper-cased keyword → its parameters (`SIZE` → `["35882577"]`, `AUTH` → `["PLAIN", "LOGIN"]`).
    var extensions: [String: [String]] = [:]

    /// No extensions: what a server answering only `HELO` supports.
    static let none = SMTPCapabilities()

    init() {}

    /// Reads the lines after the first (which is the server's greeting) of a positive EHLO reply.
    init(ehlo reply: SMTPReply) {
        for line in reply.lines.dropFirst() {
            // Some old servers write `AUTH=LOGIN PLAIN`; treat `=` after the keyword like a space.
            let normalized = line.uppercased().hasPrefix("AUTH=") ? "AUTH " + line.dropFirst(5) : line
            let words = normalized.split(separator: " ").map(String.init)
            guard let keyword = words.first?.uppercased() else { continue }
            extensions[keyword, default: []].append(contentsOf: words.dropFirst())
        }
    }

    func supports(_ keyword: String) -> Bool { extensions[keyword] != nil }

    /// The SASL mechanisms offered with `AUTH`, upper-cased.
    var authMechanisms: Set<String> { Set((extensions["AUTH"] ?? []).map { $0.uppercased() }) }

    /// The largest message the server accepts (`SIZE n`), when it announced a non-zero limit.
    var sizeLimit: Int? {
        guard let value = extensions["SIZE"]?.first, let limit = Int(value), limit > 0 else { return nil }
        return limit
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
