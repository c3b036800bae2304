import Crypto
import Foundation
import ParleyCore

/// The folder Parley keeps its local state in: the SQLite file, uploaded media and the signing secret.
public struct DataDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public var mediaPath: String { (path as NSString).appendingPathComponent("media") }
    var secretPath: String { (path as NSString).appendingPathComponent("secret") }

    /// Creates the folder and its media folder if missing.
    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: mediaPath, withIntermediateDirectories: true)
    }

    /// The secret that signs Parley's tokens: read from `secret`, or generated (256 random bits) and
    /// written there with owner-only permissions on first start. Every node of a cluster must share it:
    /// set `PARLEY_SECRET` (base64url) there instead.
    public func loadOrCreateSecret(environment: [String: String]) throws -> SymmetricKey {
        if let configured = environment["PARLEY_SECRET"], !configured.isEmpty {
            guard let data = Data(base64URLEncoded: configured), data.count >= 32 else {
                throw ConfigurationError("PARLEY_SECRET must be at least 32 bytes, base64url-encoded")
            }
            return SymmetricKey(data: data)
        }
        try prepare()
        if let text = try? String(contentsOfFile: secretPath, encoding: .utf8),
           let data = Data(base64URLEncoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count >= 32 {
            return SymmetricKey(data: data)
        }
        let key = SymmetricKey(size: .bits256)
        let encoded = key.withUnsafeBytes { Data($0) }.base64URLEncodedString()
        guard FileManager.default.createFile(atPath: secretPath, contents: Data((encoded + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write the secret to \(secretPath)")
        }
        return key
    }
}
