import Crypto
import Foundation
import ParleyCore

/// The settings of the Web Push sender: a VAPID key pair (RFC 8292) and the contact the push services may
/// write to. Stored as JSON: `{"vapid_public_key", "vapid_private_key", "subject"}`.
///
/// The public key is the `applicationServerKey` browsers subscribe with, so replacing the pair invalidates
/// every existing subscription.
public struct WebPushConfiguration: Codable, Sendable, Equatable {
    /// The uncompressed P-256 public key (65 bytes), base64url.
    public var vapidPublicKey: String
    /// The P-256 private scalar (32 bytes), base64url.
    public var vapidPrivateKey: String
    /// A `mailto:` or `https:` URL the push service can contact about this sender.
    public var subject: String

    enum CodingKeys: String, CodingKey {
        case vapidPublicKey = "vapid_public_key"
        case vapidPrivateKey = "vapid_private_key"
        case subject
    }

    public init(vapidPublicKey: String, vapidPrivateKey: String, subject: String) {
        self.vapidPublicKey = vapidPublicKey
        self.vapidPrivateKey = vapidPrivateKey
        self.subject = subject
    }

    /// Reads and validates the stored JSON.
    /// - Throws: `ParleyError.invalidField` naming the missing, unknown or malformed field.
    public init(json: JSONValue) throws(ParleyError) {
        let fields = try PushConfigurationFields(json, allowed: ["vapid_public_key", "vapid_private_key", "subject"])
        self.init(
            vapidPublicKey: try fields.string("vapid_public_key"), vapidPrivateKey: try fields.string("vapid_private_key"),
            subject: try fields.string("subject")
        )
        _ = try signingKey()
    }

    /// The JSON stored for this configuration.
    public var json: JSONValue {
        ["vapid_public_key": .string(vapidPublicKey), "vapid_private_key": .string(vapidPrivateKey), "subject": .string(subject)]
    }

    /// The private key, after checking that both keys are well formed and belong together and that the
    /// subject is a contact URL.
    /// - Throws: `ParleyError.invalidField` naming the faulty field.
    public func signingKey() throws(ParleyError) -> P256.Signing.PrivateKey {
        guard let privateBytes = Data(base64URLEncoded: vapidPrivateKey) else {
            throw .invalidField("vapid_private_key", "is not base64url")
        }
        guard privateBytes.count == 32 else {
            throw .invalidField("vapid_private_key", "must be 32 bytes (a raw P-256 private key), not \(privateBytes.count)")
        }
        guard let key = try? P256.Signing.PrivateKey(rawRepresentation: privateBytes) else {
            throw .invalidField("vapid_private_key", "is not a valid P-256 private key")
        }
        guard let publicBytes = Data(base64URLEncoded: vapidPublicKey) else {
            throw .invalidField("vapid_public_key", "is not base64url")
        }
        guard publicBytes.count == 65, publicBytes.first == 0x04 else {
            throw .invalidField("vapid_public_key", "must be an uncompressed P-256 point (65 bytes starting with 0x04)")
        }
        guard publicBytes == key.publicKey.x963Representation else {
            throw .invalidField("vapid_public_key", "does not belong to vapid_private_key")
        }
        let lowered = subject.lowercased()
        guard (lowered.hasPrefix("mailto:") && subject.count > "mailto:".count)
            || (lowered.hasPrefix("https://") && URLComponents(string: subject)?.host?.isEmpty == false)
        else { throw .invalidField("subject", "must be a mailto: or https: URL") }
        return key
    }
}
