import Crypto
import _CryptoExtras
import Foundation
import ParleyCore

/// Signs compact JWS tokens (RFC 7515) for the push services' credentials: VAPID and APNs provider tokens
/// (ES256) and Google service-account assertions (RS256).
///
/// Parley only ever signs these tokens here (the services verify them), so this is the signing half alone,
/// with the header and claims given as JSON objects because each service wants its own claim set.
public enum PushJWT {
    /// `header.claims.signature` with an ES256 signature: P-256 ECDSA over SHA-256, encoded as the raw
    /// 64-byte `r || s` (RFC 7518 §3.4), not DER.
    public static func es256(header: [String: JSONValue], claims: [String: JSONValue], key: P256.Signing.PrivateKey) throws -> String {
        var header = header
        header["alg"] = "ES256"
        let signingInput = try signingInput(header: header, claims: claims)
        let signature = try key.signature(for: Data(signingInput.utf8))
        return "\(signingInput).\(signature.rawRepresentation.base64URLEncodedString())"
    }

    /// `header.claims.signature` with an RS256 signature: RSASSA-PKCS1-v1_5 over SHA-256 (RFC 7518 §3.3).
    public static func rs256(header: [String: JSONValue], claims: [String: JSONValue], key: _RSA.Signing.PrivateKey) throws -> String {
        var header = header
        header["alg"] = "RS256"
        let signingInput = try signingInput(header: header, claims: claims)
        // swift-crypto calls PKCS#1 v1.5 "insecure" because of its encryption use; for signatures it is what
        // RS256 is defined as, and Google accepts nothing else for service-account assertions.
        let signature = try key.signature(for: SHA256.hash(data: Data(signingInput.utf8)), padding: .insecurePKCS1v1_5)
        return "\(signingInput).\(signature.rawRepresentation.base64URLEncodedString())"
    }

    private static func signingInput(header: [String: JSONValue], claims: [String: JSONValue]) throws -> String {
        "\(try segment(header)).\(try segment(claims))"
    }

    private static func segment(_ object: [String: JSONValue]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(JSONValue.object(object)).base64URLEncodedString()
    }
}
