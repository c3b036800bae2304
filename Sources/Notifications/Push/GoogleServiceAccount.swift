import _CryptoExtras
import Foundation
import ParleyCore

/// The fields Parley uses from a Google service-account key file (the JSON the Google Cloud console
/// downloads); the others (`type`, `client_id`, `auth_uri`, ...) are ignored.
public struct GoogleServiceAccount: Codable, Sendable, Equatable {
    public static let defaultTokenURI = "https://oauth2.googleapis.com/token"

    public var projectID: String
    public var clientEmail: String
    /// The RSA private key in PEM (PKCS#8, `-----BEGIN PRIVATE KEY-----`).
    public var privateKey: String
    /// The id of the key, sent as the assertion's `kid` when known.
    public var privateKeyID: String?
    /// Where access tokens are obtained.
    public var tokenURI: String

    enum CodingKeys: String, CodingKey {
        case projectID = "project_id"
        case clientEmail = "client_email"
        case privateKey = "private_key"
        case privateKeyID = "private_key_id"
        case tokenURI = "token_uri"
    }

    public init(
        projectID: String, clientEmail: String, privateKey: String, privateKeyID: String? = nil, tokenURI: String = defaultTokenURI
    ) {
        self.projectID = projectID
        self.clientEmail = clientEmail
        self.privateKey = privateKey
        self.privateKeyID = privateKeyID
        self.tokenURI = tokenURI
    }

    /// Reads the key file's JSON; `prefix` is its path in the enclosing configuration (`service_account.`).
    /// - Throws: `ParleyError.invalidField` naming the missing or malformed field.
    public init(json: JSONValue, prefix: String = "") throws(ParleyError) {
        let fields = try PushConfigurationFields(json, prefix: prefix, allowed: nil)
        if let type = try fields.optionalString("type"), type != "service_account" {
            throw .invalidField(fields.path("type"), "must be \"service_account\", not \"\(type)\"")
        }
        self.init(
            projectID: try fields.string("project_id"), clientEmail: try fields.string("client_email"),
            privateKey: try fields.string("private_key"), privateKeyID: try fields.optionalString("private_key_id"),
            tokenURI: try fields.optionalString("token_uri") ?? Self.defaultTokenURI
        )
        _ = try signingKey(prefix: prefix)
    }

    /// The JSON stored for this account (only the fields Parley uses).
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "type": "service_account", "project_id": .string(projectID), "client_email": .string(clientEmail),
            "private_key": .string(privateKey), "token_uri": .string(tokenURI),
        ]
        if let privateKeyID { object["private_key_id"] = .string(privateKeyID) }
        return .object(object)
    }

    /// The RSA key, after checking every field.
    /// - Throws: `ParleyError.invalidField` naming the faulty field.
    public func signingKey(prefix: String = "") throws(ParleyError) -> _RSA.Signing.PrivateKey {
        guard !projectID.isEmpty, projectID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw .invalidField(prefix + "project_id", "must be a Google Cloud project id (letters, digits and dashes)")
        }
        guard clientEmail.contains("@") else {
            throw .invalidField(prefix + "client_email", "must be the service account's email address")
        }
        guard PushHTTP.isAcceptableURL(tokenURI) else {
            throw .invalidField(prefix + "token_uri", "must be an https URL (plain http only to localhost)")
        }
        guard privateKey.contains("-----BEGIN") else {
            throw .invalidField(prefix + "private_key", "must be a PEM private key (-----BEGIN PRIVATE KEY-----)")
        }
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: privateKey)
        } catch {
            throw .invalidField(prefix + "private_key", "is not an RSA private key of 2048 bits or more in PEM")
        }
        return key
    }
}
