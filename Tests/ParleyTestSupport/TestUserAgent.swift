import Crypto
import Foundation
import ParleyCore

/// A browser's side of a push subscription: its P-256 key pair and auth secret, and the RFC 8291
/// decryption a user agent does when a push arrives. Written from the RFC, independently of the sender.
public struct TestUserAgent: Sendable {
    public let privateKey: P256.KeyAgreement.PrivateKey
    public let authSecret: Data

    public init(privateKey: P256.KeyAgreement.PrivateKey = .init(), authSecret: Data = Data((0..<16).map { _ in UInt8.random(in: 0...255) })) {
        self.privateKey = privateKey
        self.authSecret = authSecret
    }

    /// The subscription's `keys.p256dh`.
    public var p256dh: String { privateKey.publicKey.x963Representation.base64URLEncodedString() }
    /// The subscription's `keys.auth`.
    public var auth: String { authSecret.base64URLEncodedString() }

    /// Opens an `aes128gcm` body of a single record.
    public func decrypt(_ body: Data) throws -> Data {
        let bytes = [UInt8](body)
        guard bytes.count > 21 else { throw TestDatabaseError("the body is shorter than its header") }
        let salt = Data(bytes[0..<16])
        let recordSize = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let keyIDLength = Int(bytes[20])
        guard keyIDLength == 65, bytes.count > 21 + 65 + 16 else { throw TestDatabaseError("the key id is not a P-256 point") }
        let senderKeyBytes = Data(bytes[21..<86])
        let record = Data(bytes[86...])
        guard record.count <= recordSize else { throw TestDatabaseError("the record is larger than the record size \(recordSize)") }

        let senderKey = try P256.KeyAgreement.PublicKey(x963Representation: senderKeyBytes)
        let ecdh = try privateKey.sharedSecretFromKeyAgreement(with: senderKey)
        let secret = ecdh.withUnsafeBytes { SymmetricKey(data: Data($0)) }
        let keyInfo = Data("WebPush: info\0".utf8) + privateKey.publicKey.x963Representation + senderKeyBytes
        let ikm = HKDF<SHA256>.deriveKey(inputKeyMaterial: secret, salt: authSecret, info: keyInfo, outputByteCount: 32)
        let contentKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: ikm, salt: salt, info: Data("Content-Encoding: aes128gcm\0".utf8), outputByteCount: 16
        )
        let nonce = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: ikm, salt: salt, info: Data("Content-Encoding: nonce\0".utf8), outputByteCount: 12
        )
        let box = try AES.GCM.SealedBox(
            nonce: AES.GCM.Nonce(data: nonce.withUnsafeBytes { Data($0) }), ciphertext: record.dropLast(16), tag: record.suffix(16)
        )
        var plaintext = [UInt8](try AES.GCM.open(box, using: contentKey))
        // RFC 8188 §2: padding is zeros after a delimiter, 0x02 in the last record.
        while plaintext.last == 0 { plaintext.removeLast() }
        guard plaintext.last == 0x02 else { throw TestDatabaseError("the last record does not end with the 0x02 delimiter") }
        plaintext.removeLast()
        return Data(plaintext)
    }
}
