import Crypto
import Foundation
import ParleyCore

/// The settings of the APNs sender: a token-based provider key (the `.p8` file from the Apple developer
/// account) and the app it pushes to. Stored as JSON: `{"team_id", "key_id", "private_key", "topic",
/// "production_url"?, "sandbox_url"?}`.
///
/// One key serves every app of the team, so a device registered with its own `appID` overrides `topic`.
public struct APNsConfiguration: Codable, Sendable, Equatable {
    public static let defaultProductionURL = "https://api.push.apple.com"
    public static let defaultSandboxURL = "https://api.sandbox.push.apple.com"

    /// The 10-character Apple developer team id (the provider token's `iss`).
    public var teamID: String
    /// The 10-character id of the key (the provider token's `kid`).
    public var keyID: String
    /// The `.p8` file's contents: a P-256 private key in PEM.
    public var privateKey: String
    /// The default `apns-topic`: the app's bundle id.
    public var topic: String
    /// Overrides the production gateway (tests, a relay); nil for Apple's.
    public var productionURL: String?
    /// Overrides the sandbox gateway for development builds; nil for Apple's.
    public var sandboxURL: String?

    enum CodingKeys: String, CodingKey {
        case teamID = "team_id"
        case keyID = "key_id"
        case privateKey = "private_key"
        case topic
        case productionURL = "production_url"
        case sandboxURL = "sandbox_url"
    }

    public init(
        teamID: String, keyID: String, privateKey: String, topic: String, productionURL: String? = nil, sandboxURL: String? = nil
    ) {
        self.teamID = teamID
        self.keyID = keyID
        self.privateKey = privateKey
        self.topic = topic
        self.productionURL = productionURL
        self.sandboxURL = sandboxURL
    }

    /// Reads and validates the stored JSON.
    /// - Throws: `ParleyError.invalidField` naming the missing, unknown or malformed field.
    public init(json: JSONValue) throws(ParleyError) {
        let fields = try PushConfigurationFields(
            json, allowed: ["team_id", "key_id", "private_key", "topic", "production_url", "sandbox_url"]
        )
        self.init(
            teamID: try fields.string("team_id"), keyID: try fields.string("key_id"), privateKey: try fields.string("private_key"),
            topic: try fields.string("topic"), productionURL: try fields.baseURL("production_url"),
            sandboxURL: try fields.baseURL("sandbox_url")
        )
        _ = try signingKey()
    }

    /// The JSON stored for this configuration.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "team_id": .string(teamID), "key_id": .string(keyID), "private_key": .string(privateKey), "topic": .string(topic),
        ]
        if let productionURL { object["production_url"] = .string(productionURL) }
        if let sandboxURL { object["sandbox_url"] = .string(sandboxURL) }
        return .object(object)
    }

    /// The production gateway without a trailing slash.
    public var resolvedProductionURL: String { Self.trimmed(productionURL ?? Self.defaultProductionURL) }
    /// The sandbox gateway without a trailing slash.
    public var resolvedSandboxURL: String { Self.trimmed(sandboxURL ?? Self.defaultSandboxURL) }

    /// The provider key, after checking every field.
    /// - Throws: `ParleyError.invalidField` naming the faulty field.
    public func signingKey() throws(ParleyError) -> P256.Signing.PrivateKey {
        for (field, value) in [("team_id", teamID), ("key_id", keyID)] {
            guard !value.isEmpty, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw .invalidField(field, "must be the alphanumeric id Apple shows (10 characters)")
            }
        }
        guard !topic.isEmpty, !topic.contains(where: { $0.isWhitespace }) else {
            throw .invalidField("topic", "must be the app's bundle id")
        }
        for (field, value) in [("production_url", productionURL), ("sandbox_url", sandboxURL)] {
            if let value, !PushHTTP.isAcceptableURL(value) {
                throw .invalidField(field, "must be an https URL (plain http only to localhost)")
            }
        }
        guard privateKey.contains("-----BEGIN") else {
            throw .invalidField("private_key", "must be the .p8 file's PEM text (-----BEGIN PRIVATE KEY-----)")
        }
        guard let key = try? P256.Signing.PrivateKey(pemRepresentation: privateKey) else {
            throw .invalidField("private_key", "is not a P-256 private key in PEM (an APNs .p8 key)")
        }
        return key
    }

    private static func trimmed(_ url: String) -> String {
        url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}
