import Crypto
import _CryptoExtras
import Foundation
import ParleyCore

/// A compact JWS taken apart the way a push service does before it trusts it.
struct TestJWT {
    let header: [String: JSONValue]
    let claims: [String: JSONValue]
    let signingInput: Data
    let signature: Data

    init(_ token: String) throws {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let header = Data(base64URLEncoded: parts[0]), let claims = Data(base64URLEncoded: parts[1]),
              let signature = Data(base64URLEncoded: parts[2])
        else { throw StubError("not a compact JWS: \(token)") }
        guard let headerObject = try JSONDecoder().decode(JSONValue.self, from: header).objectValue,
              let claimsObject = try JSONDecoder().decode(JSONValue.self, from: claims).objectValue
        else { throw StubError("the JWT's header or claims are not JSON objects") }
        self.header = headerObject
        self.claims = claimsObject
        self.signingInput = Data("\(parts[0]).\(parts[1])".utf8)
        self.signature = signature
    }

    /// ES256: a raw 64-byte `r || s` signature over the signing input.
    func isSigned(by key: P256.Signing.PublicKey) -> Bool {
        guard header["alg"] == "ES256", signature.count == 64,
              let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
        else { return false }
        return key.isValidSignature(ecdsa, for: signingInput)
    }

    /// RS256: PKCS#1 v1.5 over SHA-256 of the signing input.
    func isSigned(by key: _RSA.Signing.PublicKey) -> Bool {
        guard header["alg"] == "RS256" else { return false }
        return key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: signingInput), padding: .insecurePKCS1v1_5
        )
    }
}
