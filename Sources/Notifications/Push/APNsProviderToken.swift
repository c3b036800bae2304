import Crypto
import Foundation
import ParleyCore
import Synchronization

/// The APNs provider token (a JWT `{alg: ES256, kid}.{iss: team id, iat}`), signed once and shared by
/// every send for 50 minutes.
///
/// Apple rejects a token older than 60 minutes (`ExpiredProviderToken`) and also one refreshed more often
/// than every 20 minutes (`TooManyProviderTokenUpdates`), so the token is cached rather than signed per
/// request, and renewed before the hour. Safe to use from concurrent sends: the cache is behind a `Mutex`
/// and signing is synchronous.
final class APNsProviderToken: Sendable {
    /// A token is reused for this long, then replaced on the next send.
    static let lifetime: TimeInterval = 50 * 60

    private struct Cached {
        var token: String
        var issuedAt: Date
    }

    private let teamID: String
    private let keyID: String
    private let key: P256.Signing.PrivateKey
    private let clock: any WallClock
    private let cached = Mutex<Cached?>(nil)

    init(teamID: String, keyID: String, key: P256.Signing.PrivateKey, clock: any WallClock) {
        self.teamID = teamID
        self.keyID = keyID
        self.key = key
        self.clock = clock
    }

    /// The current token, signing a new one when there is none or it is 50 minutes old.
    func current() throws -> String {
        try cached.withLock { cached in
            let now = clock.now()
            if let existing = cached, now.timeIntervalSince(existing.issuedAt) < Self.lifetime, now >= existing.issuedAt {
                return existing.token
            }
            let token = try PushJWT.es256(
                header: ["kid": .string(keyID)], claims: ["iss": .string(teamID), "iat": .int(Int(now.timeIntervalSince1970))], key: key
            )
            cached = Cached(token: token, issuedAt: now)
            return token
        }
    }

    /// Forgets `token` after APNs called it expired, so the next `current()` signs a new one. A token that
    /// was already replaced (by a concurrent send that saw the same answer) is left alone.
    func invalidate(_ token: String) {
        cached.withLock { cached in
            if cached?.token == token { cached = nil }
        }
    }
}
