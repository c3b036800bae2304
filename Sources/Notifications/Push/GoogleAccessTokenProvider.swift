import _CryptoExtras
import Foundation
import ParleyCore

/// OAuth 2.0 access tokens for a Google service account (the JWT bearer grant, RFC 7523), cached until
/// shortly before they expire.
///
/// FCM's HTTP v1 API wants `Authorization: Bearer <access token>`; a token lasts an hour, so it is fetched
/// once and shared by every send. Concurrent sends that find no valid token wait for one request to the
/// token endpoint instead of each making their own. Throws `ChannelFailure`: permanent when Google refuses
/// the credentials (a deleted key, a wrong email), retryable when the endpoint cannot be reached.
public actor GoogleAccessTokenProvider {
    /// The OAuth scope that allows sending FCM messages.
    public static let messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

    private struct Token {
        var value: String
        /// When to stop using it: a little before Google's expiry, so a request never carries a dying token.
        var renewAt: Date
    }

    private let account: GoogleServiceAccount
    private let key: _RSA.Signing.PrivateKey
    private let scope: String
    private let http: any OutboundHTTP
    private let clock: any WallClock
    private let timeout: Duration
    private var cached: Token?
    private var fetching: Task<Token, any Error>?

    /// - Throws: `ParleyError.invalidField` when the account's key or URLs are malformed.
    public init(
        account: GoogleServiceAccount, scope: String = messagingScope, http: any OutboundHTTP, clock: any WallClock = SystemWallClock(),
        timeout: Duration = .seconds(10)
    ) throws(ParleyError) {
        self.key = try account.signingKey()
        self.account = account
        self.scope = scope
        self.http = http
        self.clock = clock
        self.timeout = timeout
    }

    /// A valid access token, from the cache or from the token endpoint.
    public func token() async throws -> String {
        if let cached, clock.now() < cached.renewAt { return cached.value }
        if let fetching { return try await fetching.value.value }
        let task = Task { try await self.fetch() }
        fetching = task
        defer { fetching = nil }
        let token = try await task.value
        cached = token
        return token.value
    }

    /// Drops `token` after the service refused it, so the next `token()` fetches a new one. A token that was
    /// already replaced is left alone.
    public func invalidate(_ token: String) {
        if cached?.value == token { cached = nil }
    }

    private func fetch() async throws -> Token {
        let issuedAt = Int(clock.now().timeIntervalSince1970)
        var header: [String: JSONValue] = ["typ": "JWT"]
        if let keyID = account.privateKeyID { header["kid"] = .string(keyID) }
        let assertion = try PushJWT.rs256(header: header, claims: [
            "iss": .string(account.clientEmail),
            "scope": .string(scope),
            "aud": .string(account.tokenURI),
            "iat": .int(issuedAt),
            "exp": .int(issuedAt + 3600),
        ], key: key)
        let form = "grant_type=\(Self.formEncoded("urn:ietf:params:oauth:grant-type:jwt-bearer"))&assertion=\(Self.formEncoded(assertion))"
        let request = OutboundRequest(
            url: account.tokenURI, headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
            body: Data(form.utf8), timeout: timeout
        )
        let response = try await PushHTTP.send(request, through: http, service: "Google OAuth")
        let object = PushHTTP.object(response.body)
        switch response.status {
        case 200:
            guard let value = object?["access_token"]?.stringValue, !value.isEmpty else {
                throw ChannelFailure("Google's token endpoint answered without an access_token")
            }
            let expiresIn = object?["expires_in"]?.intValue ?? 3600
            // Renew five minutes early (or halfway through a short-lived token).
            let margin = min(300, expiresIn / 2)
            return Token(value: value, renewAt: clock.now().addingTimeInterval(TimeInterval(expiresIn - margin)))
        case 400, 401, 403:
            let reason = [object?["error"]?.stringValue, object?["error_description"]?.stringValue]
                .compactMap { $0 }.joined(separator: ": ")
            throw ChannelFailure(
                "Google refused the service account \(account.clientEmail): HTTP \(response.status)\(reason.isEmpty ? "" : ": \(reason)")",
                permanent: true
            )
        default:
            throw ChannelFailure("Google's token endpoint answered HTTP \(response.status)\(PushHTTP.snippet(response.body))")
        }
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// `application/x-www-form-urlencoded` value encoding: everything but unreserved characters escaped.
    static func formEncoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }
}
