import Crypto
import Foundation
import ParleyCore
import Synchronization

/// Sends pushes to browsers' push subscriptions: Web Push (RFC 8030), authenticated with VAPID (RFC 8292),
/// the payload encrypted with `aes128gcm` (RFC 8291).
///
/// The payload is the JSON object `{"title", "body", "category", "notification_id", "data", "click_url"?,
/// "badge"?}` the service worker receives in its `push` event. Results: 200/201/202 → `.accepted`;
/// 404/410 (or a subscription whose endpoint or keys cannot work) → `.deviceGone`; 400/401/403/413 and an
/// oversized payload → permanent `ChannelFailure`; anything else (429, 5xx, no connection) → retryable.
public struct WebPushSender: PushSender {
    public let platform = PushPlatform.webpush
    let signingKey: P256.Signing.PrivateKey
    let publicKey: String
    let subject: String
    let http: any OutboundHTTP
    let clock: any WallClock
    let timeout: Duration
    /// Signed VAPID tokens by audience (push service origin), reused until `tokenRenewal` before they expire.
    private let tokens = SignedTokens()

    /// How long a VAPID token is valid: RFC 8292 allows at most 24 hours; half leaves room for clock skew.
    static let tokenLifetime: TimeInterval = 12 * 3600
    /// A cached token is replaced once it has less than this left.
    static let tokenRenewal: TimeInterval = 3600

    /// - Throws: `ParleyError.invalidField` when the key pair or the subject is malformed.
    public init(
        configuration: WebPushConfiguration, http: any OutboundHTTP, clock: any WallClock = SystemWallClock(),
        timeout: Duration = .seconds(10)
    ) throws(ParleyError) {
        self.signingKey = try configuration.signingKey()
        self.publicKey = configuration.vapidPublicKey
        self.subject = configuration.subject
        self.http = http
        self.clock = clock
        self.timeout = timeout
    }

    /// A new random VAPID key pair in the form `WebPushConfiguration` stores: the public key as a base64url
    /// uncompressed point (what browsers take as `applicationServerKey`), the private key as base64url raw bytes.
    public static func generateVAPIDKeyPair() -> (publicKey: String, privateKey: String) {
        let key = P256.Signing.PrivateKey()
        return (key.publicKey.x963Representation.base64URLEncodedString(), key.rawRepresentation.base64URLEncodedString())
    }

    public func send(_ content: PushContent, to device: PushDevice) async throws -> PushSendResult {
        let endpoint = device.token
        guard PushHTTP.isAcceptableURL(endpoint), let audience = Self.origin(of: endpoint) else {
            return .deviceGone(reason: "the subscription endpoint is not an https URL")
        }
        guard let p256dh = device.p256dh.flatMap({ Data(base64URLEncoded: $0) }),
              let auth = device.auth.flatMap({ Data(base64URLEncoded: $0) })
        else { return .deviceGone(reason: "the subscription has no valid p256dh and auth keys") }

        let body: Data
        do {
            body = try WebPushEncryption.encrypt(try Self.payload(content), userAgentPublicKey: p256dh, authSecret: auth)
        } catch let failure as WebPushEncryption.Failure {
            if case .payloadTooLarge = failure { throw ChannelFailure("Web Push: \(failure)", permanent: true) }
            return .deviceGone(reason: "the subscription's keys are unusable: \(failure)")
        }

        var headers: [(String, String)] = [
            ("Authorization", try authorization(audience: audience)),
            ("Content-Type", "application/octet-stream"),
            ("Content-Encoding", "aes128gcm"),
            ("TTL", String(PushHTTP.seconds(content.timeToLive))),
            ("Urgency", content.urgent ? "high" : "normal"),
        ]
        if let collapseID = content.collapseID { headers.append(("Topic", Self.topic(collapseID))) }

        let response = try await PushHTTP.send(
            OutboundRequest(url: endpoint, headers: headers, body: body, timeout: timeout), through: http, service: "Web Push"
        )
        switch response.status {
        case 200, 201, 202:
            return .accepted(id: nil)
        case 404, 410:
            return .deviceGone(reason: "the push service answered HTTP \(response.status): the subscription is gone")
        case 400, 401, 403, 413:
            throw ChannelFailure("the push service refused it: HTTP \(response.status)\(PushHTTP.snippet(response.body))", permanent: true)
        default:
            throw ChannelFailure("the push service answered HTTP \(response.status)\(PushHTTP.snippet(response.body))")
        }
    }

    /// `vapid t=<JWT>, k=<public key>` (RFC 8292 §3): the JWT is bound to the push service's origin, so a
    /// leaked token is worthless at any other service, and expires well within the 24 hours allowed.
    /// Signed once per push service and reused for 11 hours (an ES256 signature per push was most of a send's CPU;
    /// browsers' subscriptions live at a handful of push services).
    func authorization(audience: String) throws -> String {
        let now = clock.now()
        if let cached = tokens.byAudience.withLock({ $0[audience] }), cached.expiry.timeIntervalSince(now) > Self.tokenRenewal,
           cached.expiry.timeIntervalSince(now) <= Self.tokenLifetime {
            return cached.authorization
        }
        let expiry = Int(now.timeIntervalSince1970 + Self.tokenLifetime)
        let token = try PushJWT.es256(
            header: ["typ": "JWT"], claims: ["aud": .string(audience), "exp": .int(expiry), "sub": .string(subject)], key: signingKey
        )
        let authorization = "vapid t=\(token), k=\(publicKey)"
        tokens.byAudience.withLock { tokens in
            if tokens.count >= 256 { tokens.removeAll() }  // endpoints are validated URLs, but keep it bounded
            tokens[audience] = (authorization, Date(timeIntervalSince1970: TimeInterval(expiry)))
        }
        return authorization
    }

    /// The JSON the service worker receives.
    static func payload(_ content: PushContent) throws -> Data {
        var object: [String: JSONValue] = [
            "title": .string(content.title),
            "body": .string(content.body),
            "category": .string(content.category),
            "notification_id": .string(content.notificationID),
            "data": .object(content.data),
        ]
        if let clickURL = content.clickURL { object["click_url"] = .string(clickURL) }
        if let badge = content.badge { object["badge"] = .int(badge) }
        return try PushHTTP.json(.object(object))
    }

    /// RFC 8030 §5.4 allows a topic of at most 32 base64url characters. A hash of the collapse id always fits,
    /// and the push service never learns the conversation or notification it names.
    static func topic(_ collapseID: String) -> String {
        String(PushHTTP.digest(collapseID).prefix(32))
    }

    /// `scheme://host[:port]`, the audience of the VAPID token (RFC 8292 §2: the push resource's origin).
    static func origin(of endpoint: String) -> String? {
        guard let components = URLComponents(string: endpoint), let scheme = components.scheme?.lowercased(),
              let host = components.host?.lowercased(), !host.isEmpty
        else { return nil }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        guard let port = components.port, port != defaultPort else { return "\(scheme)://\(bracketed)" }
        return "\(scheme)://\(bracketed):\(port)"
    }
}

/// The VAPID tokens a `WebPushSender` signed, by audience (the sender is a value; its cache is shared by its copies).
private final class SignedTokens: Sendable {
    let byAudience = Mutex<[String: (authorization: String, expiry: Date)]>([:])
}
