import Crypto
import _CryptoExtras
import Foundation
import ParleyCore

/// The claims Parley reads from and writes to user tokens.
public struct UserTokenClaims: Codable, Sendable, Equatable {
    public var sub: String
    public var roles: [String]?
    public var exp: Int64
    public var iat: Int64?
    public var nbf: Int64?
    public var iss: String?
    public var jti: String?

    public init(sub: String, roles: [String]?, exp: Int64, iat: Int64?, nbf: Int64? = nil, iss: String?, jti: String?) {
        self.sub = sub
        self.roles = roles
        self.exp = exp
        self.iat = iat
        self.nbf = nbf
        self.iss = iss
        self.jti = jti
    }
}

/// A key that can verify compact JWS tokens (RFC 7515) of exactly one algorithm.
///
/// Each key is bound to its algorithm, so a token cannot choose how it is verified (no `alg: none`, no
/// HS256 token verified with an RSA public key used as an HMAC secret).
public enum JWTVerificationKey: Sendable {
    case hs256(SymmetricKey)
    case es256(P256.Signing.PublicKey)
    case rs256(_RSA.Signing.PublicKey)

    var algorithm: String {
        switch self {
        case .hs256: "HS256"
        case .es256: "ES256"
        case .rs256: "RS256"
        }
    }

    /// Reads a PEM public key, EC P-256 (ES256) or RSA (RS256, 2048 bits or more).
    public static func publicKey(pem: String) throws -> JWTVerificationKey {
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) { return .es256(key) }
        return .rs256(try _RSA.Signing.PublicKey(pemRepresentation: pem))
    }

    func isValidSignature(_ signature: Data, for signingInput: Data) -> Bool {
        switch self {
        case .hs256(let key):
            return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: key)
        case .es256(let key):
            guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(ecdsa, for: signingInput)
        case .rs256(let key):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: signingInput),
                padding: .insecurePKCS1v1_5
            )
        }
    }
}

/// Why a token was refused. The transport turns these into `auth.*` error codes.
public enum JWTError: Error, Equatable, Sendable {
    case malformed
    case unsupportedAlgorithm
    case badSignature
    case expired
    case notYetValid
    case wrongIssuer
}

/// Encodes and verifies compact JWTs.
public enum JWTCodec {
    struct Header: Codable {
        var alg: String
        var typ: String?
    }

    public static func signHS256(_ claims: UserTokenClaims, key: SymmetricKey) throws -> String {
        let header = try encodedSegment(Header(alg: "HS256", typ: "JWT"))
        let payload = try encodedSegment(claims)
        let signingInput = "\(header).\(payload)"
        let signature = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: key)
        return "\(signingInput).\(Data(signature).base64URLEncodedString())"
    }

    public static func signES256(_ claims: UserTokenClaims, key: P256.Signing.PrivateKey) throws -> String {
        let header = try encodedSegment(Header(alg: "ES256", typ: "JWT"))
        let payload = try encodedSegment(claims)
        let signingInput = "\(header).\(payload)"
        let signature = try key.signature(for: Data(signingInput.utf8))
        return "\(signingInput).\(signature.rawRepresentation.base64URLEncodedString())"
    }

    /// Verifies the signature with the first key of the token's algorithm that accepts it, then the time claims.
    /// `leeway` absorbs clock skew between the platform and Parley.
    public static func verify(
        _ token: String, keys: [JWTVerificationKey], now: Date, leeway: TimeInterval = 30
    ) throws(JWTError) -> UserTokenClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 8192,
              let headerData = Data(base64URLEncoded: String(parts[0])),
              let payloadData = Data(base64URLEncoded: String(parts[1])),
              let signature = Data(base64URLEncoded: String(parts[2])),
              let header = try? JSONDecoder().decode(Header.self, from: headerData)
        else { throw .malformed }
        let candidates = keys.filter { $0.algorithm == header.alg }
        guard !candidates.isEmpty else { throw .unsupportedAlgorithm }
        let signingInput = Data("\(parts[0]).\(parts[1])".utf8)
        guard candidates.contains(where: { $0.isValidSignature(signature, for: signingInput) }) else { throw .badSignature }
        guard let claims = try? JSONDecoder().decode(UserTokenClaims.self, from: payloadData) else { throw .malformed }
        let nowSeconds = now.timeIntervalSince1970
        guard Double(claims.exp) + leeway > nowSeconds else { throw .expired }
        if let nbf = claims.nbf, Double(nbf) - leeway > nowSeconds { throw .notYetValid }
        return claims
    }

    static func encodedSegment(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value).base64URLEncodedString()
    }
}
