import Foundation

/// The SMTP server Parley hands mail to (a submission server, a relay, or a provider's SMTP endpoint).
public struct SMTPServer: Sendable, Hashable {
    /// How the connection is protected.
    public enum Security: Sendable, Hashable {
        /// Plain TCP, upgraded with STARTTLS (RFC 3207) when the server offers it. A failed TLS handshake always
        /// fails the send (never a fallback to plaintext); with `required`, so does a server that does not
        /// offer STARTTLS or refuses it.
        case starttls(required: Bool)
        /// TLS from the first byte ("implicit TLS", RFC 8314, usually port 465).
        case tls
        /// Plain TCP only, never TLS (local relays, tests).
        case none

        /// The usual port for this security: 587 (submission), 465 (submissions) or 25.
        public var defaultPort: Int {
            switch self {
            case .starttls: 587
            case .tls: 465
            case .none: 25
            }
        }
    }

    /// A user name and password for SMTP AUTH (PLAIN or LOGIN, whichever the server advertises).
    public struct Credentials: Sendable, Hashable, CustomStringConvertible {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        /// Never shows the password.
        public var description: String { "Credentials(username: \(username), password: <redacted>)" }
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var credentials: Credentials?
    /// Allows AUTH over a connection that is not TLS-protected. Off by default: credentials are only sent
    /// after a successful STARTTLS upgrade or over implicit TLS.
    public var allowInsecureAuth: Bool
    /// The name Parley gives in EHLO/HELO; nil uses this machine's host name (or `localhost`).
    public var heloName: String?
    /// How long to wait for the TCP connection.
    public var connectTimeout: Duration
    /// How long to wait for each reply, the server's greeting (and an implicit TLS handshake before it) included.
    public var commandTimeout: Duration
    /// How long sending the message body and waiting for the server's final reply may take.
    public var dataTimeout: Duration
    /// Extra certificate authorities (PEM, one or more) trusted besides the system's, for private servers and
    /// tests. Host names are always verified.
    public var trustedRootCertificatesPEM: String?

    /// - Parameter port: nil uses `security.defaultPort`.
    public init(
        host: String, port: Int? = nil, security: Security = .starttls(required: true), credentials: Credentials? = nil,
        allowInsecureAuth: Bool = false, heloName: String? = nil, connectTimeout: Duration = .seconds(10),
        commandTimeout: Duration = .seconds(60), dataTimeout: Duration = .seconds(180), trustedRootCertificatesPEM: String? = nil
    ) {
        self.host = host
        self.port = port ?? security.defaultPort
        self.security = security
        self.credentials = credentials
        self.allowInsecureAuth = allowInsecureAuth
        self.heloName = heloName
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.dataTimeout = dataTimeout
        self.trustedRootCertificatesPEM = trustedRootCertificatesPEM
    }
}

/// One message on its way to an SMTP server: the SMTP envelope (RFC 5321 `MAIL FROM` and `RCPT TO`) and the
/// finished message bytes (RFC 5322 headers and body, e.g. from `MIMEMessage`).
///
/// The addresses are bare (`user@example.com`, no display name or angle brackets); `OutboundMailer.send`
/// refuses any that `isValidAddress` rejects. The message's line endings may be LF or CRLF: the mailer
/// normalises them and dot-stuffs the data.
public struct MailEnvelope: Sendable, Equatable {
    public var from: String
    public var recipients: [String]
    public var message: Data

    public init(from: String, recipients: [String], message: Data) {
        self.from = from
        self.recipients = recipients
        self.message = message
    }

    /// Longest address accepted (RFC 5321 §4.5.3.1: 64 for the local part, 255 for the domain; 254 in a path).
    public static let maximumAddressLength = 254

    /// Whether `address` is a plain `local@domain` mailbox that is safe to put in an SMTP command or a header.
    ///
    /// Refused: anything with control characters (CR, LF, NUL, ...), spaces, angle brackets, quotes, commas,
    /// semicolons, parentheses or backslashes (so no quoted local parts and no header or command injection),
    /// an empty local part or domain, dots at either end or doubled, and overlong addresses. Non-ASCII
    /// characters (internationalised addresses) are accepted; the mailer then needs the server's SMTPUTF8.
    public static func isValidAddress(_ address: String) -> Bool {
        guard !address.isEmpty, address.utf8.count <= maximumAddressLength,
              let at = address.lastIndex(of: "@") else { return false }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        guard !local.isEmpty, local.utf8.count <= 64, !domain.isEmpty, domain.utf8.count <= 253 else { return false }
        guard isDotAtom(local, allowed: isLocalPartScalar) else { return false }
        if domain.hasPrefix("[") {
            // An address literal: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
            guard domain.hasSuffix("]"), domain.count > 2 else { return false }
            return domain.dropFirst().dropLast().unicodeScalars.allSatisfy { scalar in
                scalar.properties.isASCIIHexDigit || scalar == "." || scalar == ":"
                    || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
            }
        }
        return isDotAtom(domain, allowed: isDomainScalar)
    }

    /// Whether any address needs SMTPUTF8 (RFC 6531) because it is not plain ASCII.
    public var needsSMTPUTF8: Bool {
        ([from] + recipients).contains { address in address.unicodeScalars.contains { !$0.isASCII } }
    }

    private static func isDotAtom(_ text: Substring, allowed: (Unicode.Scalar) -> Bool) -> Bool {
        guard !text.hasPrefix("."), !text.hasSuffix("."), !text.contains("..") else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "." || allowed($0) }
    }

    /// RFC 5322 `atext` (letters, digits and ``!#$%&'*+-/=?^_`{|}~``), plus UTF-8 beyond ASCII (RFC 6532).
    private static func isLocalPartScalar(_ scalar: Unicode.Scalar) -> Bool {
        if !scalar.isASCII { return !scalar.properties.isWhitespace && scalar.properties.generalCategory != .control }
        if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) { return true }
        return "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar)
    }

    /// Letters, digits and hyphens (LDH), plus non-ASCII letters for internationalised domain names.
    private static func isDomainScalar(_ scalar: Unicode.Scalar) -> Bool {
        if !scalar.isASCII { return !scalar.properties.isWhitespace && scalar.properties.generalCategory != .control }
        return ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-"
    }
}

/// The seam through which contexts send email, so they never import NIO or speak SMTP themselves.
///
/// `send` returns once the server accepted the message for every recipient (a `250` after the data), and
/// throws `MailDeliveryError` otherwise. A message is either accepted for all of its recipients or not
/// sent at all: if the server refuses one recipient, the transaction is abandoned before the data.
public protocol OutboundMailer: Sendable {
    func send(_ envelope: MailEnvelope, via server: SMTPServer) async throws
}

/// Why a message could not be handed to the SMTP server.
///
/// `permanent` failures will fail again however often they are retried: a `5xx` reply (a rejected
/// recipient or sender, refused credentials, a message too large) or a message that cannot be sent as
/// built (an invalid address, an internationalised address the server cannot take). Everything else is
/// transient and worth a retry later: `4xx` replies, refused or dropped connections, timeouts, TLS failures
/// (including a server that does not offer the STARTTLS that was required) and unexpected replies.
public struct MailDeliveryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The step that failed, in SMTP terms.
    public enum Stage: String, Sendable, Equatable {
        case connect
        case tls
        case greeting
        case hello
        case authentication
        case sender
        case recipient
        case data
        case message
    }

    public var stage: Stage
    /// The server's reply code (`550`), or nil when the server gave none (connection failures, timeouts, TLS
    /// failures, refused input).
    public var code: Int?
    /// The enhanced status code from the reply (`5.1.1`, RFC 3463), when the server sent one.
    public var enhancedCode: String?
    /// The server's reply text, or Parley's own explanation when there is no reply.
    public var text: String
    public var permanent: Bool

    public init(stage: Stage, code: Int?, enhancedCode: String? = nil, text: String, permanent: Bool) {
        self.stage = stage
        self.code = code
        self.enhancedCode = enhancedCode
        self.text = text
        self.permanent = permanent
    }

    public var isTransient: Bool { !permanent }

    public var description: String {
        let kind = permanent ? "permanent" : "transient"
        guard let code else { return "\(kind) SMTP failure (\(stage.rawValue)): \(text)" }
        return "\(kind) SMTP failure (\(stage.rawValue)): \(code) \(text)"
    }
}
