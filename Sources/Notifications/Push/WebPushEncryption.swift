import Crypto
import Foundation

/// Web Push message encryption (RFC 8291) in the `aes128gcm` content coding (RFC 8188), one record.
///
/// The push service only relays the bytes: they are encrypted to the browser's subscription key (`p256dh`)
/// and authenticated with its `auth` secret, so neither the push service nor anyone on the way can read or
/// alter them. Every message uses a fresh ephemeral key pair and salt; both can be passed in so a test can
/// reproduce RFC 8291 §5's published example byte for byte. Never pass fixed ones in production: reusing
/// them repeats the AES-GCM key and nonce.
public enum WebPushEncryption {
    /// Why a message could not be encrypted.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The subscription's `p256dh` is not an uncompressed P-256 point (65 bytes, `0x04 || x || y`).
        case invalidUserAgentKey
        /// The subscription's `auth` secret is not 16 bytes.
        case invalidAuthSecret
        /// The salt is not 16 bytes.
        case invalidSalt
        /// The plaintext does not fit in one record of a payload every push service must accept.
        case payloadTooLarge(size: Int, limit: Int)

        public var description: String {
            switch self {
            case .invalidUserAgentKey: "the subscription's p256dh key is not an uncompressed P-256 point"
            case .invalidAuthSecret: "the subscription's auth secret is not 16 bytes"
            case .invalidSalt: "the salt is not 16 bytes"
            case .payloadTooLarge(let size, let limit): "the payload is \(size) bytes, more than the \(limit) that fit"
            }
        }
    }

    /// The record size written in the header. The whole message is one record, so it only has to be larger
    /// than the ciphertext; 4096 is what browsers and the RFC's example use.
    public static let recordSize: UInt32 = 4096

    /// The header: salt (16), record size (4), key id length (1), the sender's public key (65).
    public static let headerLength = 86

    /// The largest plaintext sent: push services must accept 4096-byte bodies (RFC 8030 §7.2), which leaves
    /// room for the header, the 16-byte tag and the padding delimiter.
    public static let maxPlaintextLength = 4096 - headerLength - 16 - 1

    /// Encrypts `plaintext` for the subscription with public key `userAgentPublicKey` (the 65-byte `p256dh`)
    /// and `authSecret` (the 16-byte `auth`), returning the complete request body.
    ///
    /// - Parameters:
    ///   - serverKey: the ephemeral key pair of this message (a new one by default).
    ///   - salt: 16 random bytes (new ones by default).
    /// - Throws: `WebPushEncryption.Failure` for malformed keys or an oversized plaintext.
    public static func encrypt(
        _ plaintext: Data, userAgentPublicKey: Data, authSecret: Data,
        serverKey: P256.KeyAgreement.PrivateKey = P256.KeyAgreement.PrivateKey(), salt: Data? = nil
    ) throws(Failure) -> Data {
        guard plaintext.count <= maxPlaintextLength else {
            throw .payloadTooLarge(size: plaintext.count, limit: maxPlaintextLength)
        }
        guard userAgentPublicKey.count == 65, userAgentPublicKey.first == 0x04,
              let userAgentKey = try? P256.KeyAgreement.PublicKey(x963Representation: userAgentPublicKey)
        else { throw .invalidUserAgentKey }
        guard authSecret.count == 16 else { throw .invalidAuthSecret }
        let salt = salt ?? randomBytes(16)
        guard salt.count == 16 else { throw .invalidSalt }
        guard let sharedSecret = try? serverKey.sharedSecretFromKeyAgreement(with: userAgentKey) else {
            throw .invalidUserAgentKey
        }
        let serverPublicKey = serverKey.publicKey.x963Representation

        // RFC 8291 §3.3: mix the auth secret and both public keys into the input keying material.
        let keyInfo = Data("WebPush: info".utf8) + [0] + userAgentPublicKey + serverPublicKey
        let inputKeyingMaterial = sharedSecret.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: authSecret, sharedInfo: keyInfo, outputByteCount: 32
        )
        // RFC 8188 §2.2-2.3: the content-encryption key and nonce from the salt.
        let pseudoRandomKey = HKDF<SHA256>.extract(inputKeyMaterial: inputKeyingMaterial, salt: salt)
        let contentKey = HKDF<SHA256>.expand(
            pseudoRandomKey: pseudoRandomKey, info: Data("Content-Encoding: aes128gcm".utf8) + [0], outputByteCount: 16
        )
        let nonce = HKDF<SHA256>.expand(
            pseudoRandomKey: pseudoRandomKey, info: Data("Content-Encoding: nonce".utf8) + [0], outputByteCount: 12
        )

        // One record, so it is the last one: the padding delimiter is 0x02 and no padding follows.
        let record = plaintext + [0x02]
        let sealed: AES.GCM.SealedBox
        do {
            sealed = try AES.GCM.seal(record, using: contentKey, nonce: AES.GCM.Nonce(data: nonce.withUnsafeBytes { Data($0) }))
        } catch {
            // Only reachable with a nonce of the wrong size, which HKDF above rules out.
            preconditionFailure("AES-GCM refused a 16-byte key and a 12-byte nonce: \(error)")
        }

        var body = Data(capacity: headerLength + sealed.ciphertext.count + sealed.tag.count)
        body.append(salt)
        withUnsafeBytes(of: recordSize.bigEndian) { body.append(contentsOf: $0) }
        body.append(UInt8(serverPublicKey.count))
        body.append(serverPublicKey)
        body.append(sealed.ciphertext)
        body.append(sealed.tag)
        return body
    }

    static func randomBytes(_ count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
