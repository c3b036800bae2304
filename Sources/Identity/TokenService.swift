import Crypto
import Foundation
import ParleyCore

/// Mints Parley's own user tokens and verifies user tokens from Parley or from the platform.
///
/// Parley signs with HS256 under its own secret (issuer `parley`). A platform may also mint tokens itself:
/// with a shared HS256 secret or an ES256/RS256 key pair whose public half Parley is given; when an
/// issuer is configured, platform tokens must carry it.
public struct TokenService: Sendable {
    public static let parleyIssuer = "parley"
    public static let maxTTL: Int = 30 * 24 * 3600

    let secret: SymmetricKey
    let platformKeys: [JWTVerificationKey]
    let platformIssuer: String?
    let clock: any WallClock
    let ids: any IDGenerator

    public init(secret: SymmetricKey, platformKeys: [JWTVerificationKey] = [], platformIssuer: String? = nil,
                clock: any WallClock, ids: any IDGenerator) {
        self.secret = secret
        self.platformKeys = platformKeys
        self.platformIssuer = platformIssuer
        self.clock = clock
        self.ids = ids
    }

    /// A signed token for `user` with `roles`, valid for `ttlSeconds` (1 second to 30 days).
    public func mint(user: UserID, roles: Set<Role>, ttlSeconds: Int) throws -> (token: String, expiresAt: Date) {
        guard (1...Self.maxTTL).contains(ttlSeconds) else {
            throw ParleyError.invalidField("ttl_seconds", "must be between 1 and \(Self.maxTTL)")
        }
        let now = clock.now()
        let expires = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down) + Double(ttlSeconds))
        let claims = UserTokenClaims(
            sub: user.rawValue, roles: Role.allCases.filter(roles.contains).map(\.rawValue),
            exp: Int64(expires.timeIntervalSince1970), iat: Int64(now.timeIntervalSince1970),
            iss: Self.parleyIssuer, jti: ids.next(prefix: "t_")
        )
        return (try JWTCodec.signHS256(claims, key: secret), expires)
    }

    /// The user and roles a token grants. Throws `auth.*` errors; does not check the user is active.
    public func verify(_ token: String) throws(ParleyError) -> (user: UserID, roles: Set<Role>) {
        let claims: UserTokenClaims
        do {
            claims = try verifyClaims(token)
        } catch {
            switch error {
            case .expired: throw ParleyError.tokenExpired()
            case .notYetValid: throw ParleyError.invalidToken("the token is not valid yet")
            case .wrongIssuer: throw ParleyError.invalidToken("the token's issuer is not accepted")
            case .badSignature: throw ParleyError.invalidToken("the signature does not verify")
            case .unsupportedAlgorithm: throw ParleyError.invalidToken("the signing algorithm is not accepted")
            case .malformed: throw ParleyError.invalidToken("the token is malformed")
            }
        }
        guard UserID.isValid(claims.sub) else { throw ParleyError.invalidToken("the subject is not a valid user id") }
        var roles: Set<Role> = []
        for name in claims.roles ?? ["user"] {
            guard let role = Role(rawValue: name) else { throw ParleyError.invalidToken("unknown role '\(name)'") }
            roles.insert(role)
        }
        if roles.isEmpty { roles = [.user] }
        return (UserID(trusted: claims.sub), roles)
    }

    private func verifyClaims(_ token: String) throws(JWTError) -> UserTokenClaims {
        let now = clock.now()
        // Parley's own tokens first: the common case, and the only one with issuer `parley`.
        do throws(JWTError) {
            let claims = try JWTCodec.verify(token, keys: [.hs256(secret)], now: now)
            guard claims.iss == Self.parleyIssuer else { throw JWTError.wrongIssuer }
            return claims
        } catch {
            // A token Parley did not sign may still be the platform's (another secret, or ES256/RS256).
            guard !platformKeys.isEmpty, error == .badSignature || error == .unsupportedAlgorithm else { throw error }
        }
        let claims = try JWTCodec.verify(token, keys: platformKeys, now: now)
        if let platformIssuer, claims.iss != platformIssuer { throw .wrongIssuer }
        return claims
    }
}

extension ParleyError {
    public static func missingCredentials() -> ParleyError {
        ParleyError(.unauthorized, code: "auth.missing_credentials",
                    message: "Send 'Authorization: Bearer <token or API key>'.")
    }

    public static func tokenExpired() -> ParleyError {
        ParleyError(.unauthorized, code: "auth.token_expired", message: "The token has expired; get a new one.")
    }

    public static func invalidToken(_ reason: String) -> ParleyError {
        ParleyError(.unauthorized, code: "auth.invalid_token", message: "The token was refused: \(reason).")
    }

    public static func invalidAPIKey() -> ParleyError {
        ParleyError(.unauthorized, code: "auth.invalid_api_key", message: "The API key is unknown or revoked.")
    }

    public static func userDeactivated() -> ParleyError {
        ParleyError(.unauthorized, code: "auth.user_deactivated", message: "This user has been deactivated.")
    }

    public static func unknownUser() -> ParleyError {
        ParleyError(.unauthorized, code: "auth.unknown_user",
                    message: "The token names a user the platform has not created in Parley.")
    }

    public static func userTokenRequired() -> ParleyError {
        ParleyError(.forbidden, code: "auth.user_token_required", message: "This route is for end users: use a user token.")
    }

    public static func apiKeyRequired() -> ParleyError {
        ParleyError(.forbidden, code: "auth.api_key_required", message: "This route is for the platform's backend: use an API key.")
    }

    public static func insufficientScope(_ required: APIKeyScope) -> ParleyError {
        ParleyError(.forbidden, code: "auth.insufficient_scope", message: "This route needs an API key with scope '\(required.rawValue)'.",
                    details: ["required_scope": .string(required.rawValue)])
    }

    public static func missingRole(_ role: Role) -> ParleyError {
        ParleyError(.forbidden, code: "auth.missing_role", message: "This action needs the role '\(role.rawValue)'.",
                    details: ["required_role": .string(role.rawValue)])
    }
}
