import Crypto
import _CryptoExtras
import Foundation
import Identity
import ParleyCore
import Testing

@Suite struct TokenServiceTests {
    let clock = ManualWallClock()
    let secret = SymmetricKey(size: .bits256)

    func service(platformKeys: [JWTVerificationKey] = [], issuer: String? = nil) -> TokenService {
        TokenService(secret: secret, platformKeys: platformKeys, platformIssuer: issuer, clock: clock, ids: SortableIDGenerator(clock: clock))
    }

    func expectCode(_ code: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected \(code)")
        } catch let error as ParleyError {
            #expect(error.code == code)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func aMintedTokenVerifiesWithItsUserAndRoles() throws {
        let tokens = service()
        let minted = try tokens.mint(user: try UserID(validating: "alice"), roles: [.user, .agent], ttlSeconds: 600)
        #expect(minted.expiresAt == clock.now().addingTimeInterval(600))
        let verified = try tokens.verify(minted.token)
        #expect(verified.user.rawValue == "alice")
        #expect(verified.roles == [.user, .agent])
    }

    @Test func anExpiredTokenIsRefusedAfterTheLeeway() throws {
        let tokens = service()
        let minted = try tokens.mint(user: try UserID(validating: "alice"), roles: [.user], ttlSeconds: 60)
        clock.advance(by: 60 + 29)
        _ = try tokens.verify(minted.token)
        clock.advance(by: 2)
        expectCode("auth.token_expired") { _ = try tokens.verify(minted.token) }
    }

    @Test func forgedTamperedAndUnsignedTokensAreRefused() throws {
        let tokens = service()
        let minted = try tokens.mint(user: try UserID(validating: "alice"), roles: [.user], ttlSeconds: 60)
        let other = TokenService(secret: SymmetricKey(size: .bits256), clock: clock, ids: SortableIDGenerator())
        let forged = try other.mint(user: try UserID(validating: "alice"), roles: [.admin], ttlSeconds: 60)
        expectCode("auth.invalid_token") { _ = try tokens.verify(forged.token) }
        // Swap the payload for one claiming admin, keeping the original signature.
        let parts = minted.token.split(separator: ".")
        let adminPayload = Data(#"{"exp":9999999999,"iss":"parley","roles":["admin"],"sub":"alice"}"#.utf8).base64URLEncodedString()
        expectCode("auth.invalid_token") { _ = try tokens.verify("\(parts[0]).\(adminPayload).\(parts[2])") }
        let noneHeader = Data(#"{"alg":"none"}"#.utf8).base64URLEncodedString()
        expectCode("auth.invalid_token") { _ = try tokens.verify("\(noneHeader).\(parts[1]).") }
        expectCode("auth.invalid_token") { _ = try tokens.verify("not-a-jwt") }
        expectCode("auth.invalid_token") { _ = try tokens.verify("") }
    }

    @Test func ttlOutsideItsBoundsIsRefused() throws {
        let tokens = service()
        let alice = try UserID(validating: "alice")
        #expect(throws: ParleyError.self) { try tokens.mint(user: alice, roles: [.user], ttlSeconds: 0) }
        #expect(throws: ParleyError.self) { try tokens.mint(user: alice, roles: [.user], ttlSeconds: TokenService.maxTTL + 1) }
    }

    @Test func platformTokensSignedWithES256AreAcceptedWithTheConfiguredIssuerOnly() throws {
        let platformKey = P256.Signing.PrivateKey()
        let tokens = service(platformKeys: [.es256(platformKey.publicKey)], issuer: "shop")
        let exp = Int64(clock.now().timeIntervalSince1970) + 300
        let good = try JWTCodec.signES256(UserTokenClaims(sub: "carol", roles: ["moderator"], exp: exp, iat: nil, iss: "shop", jti: nil),
                                          key: platformKey)
        let verified = try tokens.verify(good)
        #expect(verified.user.rawValue == "carol")
        #expect(verified.roles == [.moderator])
        let wrongIssuer = try JWTCodec.signES256(UserTokenClaims(sub: "carol", roles: nil, exp: exp, iat: nil, iss: "other", jti: nil),
                                                 key: platformKey)
        expectCode("auth.invalid_token") { _ = try tokens.verify(wrongIssuer) }
        let strangerKey = P256.Signing.PrivateKey()
        let stranger = try JWTCodec.signES256(UserTokenClaims(sub: "carol", roles: nil, exp: exp, iat: nil, iss: "shop", jti: nil),
                                              key: strangerKey)
        expectCode("auth.invalid_token") { _ = try tokens.verify(stranger) }
        // The same claims as an ES256 token are refused by a Parley without platform keys.
        expectCode("auth.invalid_token") { _ = try service().verify(good) }
    }

    @Test func platformTokensSignedWithRS256VerifyFromAPEMPublicKey() throws {
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let key = try JWTVerificationKey.publicKey(pem: rsa.publicKey.pemRepresentation)
        let tokens = service(platformKeys: [key])
        let header = Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8).base64URLEncodedString()
        let exp = Int64(clock.now().timeIntervalSince1970) + 300
        let payload = Data(#"{"exp":\#(exp),"roles":["user","agent"],"sub":"dave"}"#.utf8).base64URLEncodedString()
        let signingInput = "\(header).\(payload)"
        let signature = try rsa.signature(for: SHA256.hash(data: Data(signingInput.utf8)), padding: .insecurePKCS1v1_5)
        let token = "\(signingInput).\(signature.rawRepresentation.base64URLEncodedString())"
        let verified = try tokens.verify(token)
        #expect(verified.user.rawValue == "dave")
        #expect(verified.roles == [.user, .agent])
    }

    @Test func platformTokensWithASharedHS256SecretAndUnknownRoles() throws {
        let shared = SymmetricKey(data: Data("a-platform-secret-of-at-least-32-bytes!".utf8))
        let tokens = service(platformKeys: [.hs256(shared)])
        let exp = Int64(clock.now().timeIntervalSince1970) + 300
        let good = try JWTCodec.signHS256(UserTokenClaims(sub: "erin", roles: nil, exp: exp, iat: nil, iss: "shop", jti: nil), key: shared)
        #expect(try tokens.verify(good).roles == [.user])
        let badRole = try JWTCodec.signHS256(UserTokenClaims(sub: "erin", roles: ["root"], exp: exp, iat: nil, iss: nil, jti: nil), key: shared)
        expectCode("auth.invalid_token") { _ = try tokens.verify(badRole) }
        let badSubject = try JWTCodec.signHS256(UserTokenClaims(sub: "a b", roles: nil, exp: exp, iat: nil, iss: nil, jti: nil), key: shared)
        expectCode("auth.invalid_token") { _ = try tokens.verify(badSubject) }
    }
}
