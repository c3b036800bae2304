import ParleyTestSupport
import Crypto
import Foundation
import Notifications
import ParleyCore
import Testing

/// RFC 8291 §5 and Appendix A: the published example of encrypting a push message.
enum RFC8291Example {
    static let plaintext = "When I grow up, I want to be a watermelon"
    static let userAgentPublicKey = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    static let userAgentPrivateKey = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
    static let authSecret = "BTBZMqHH6r4Tts7J_aSIgg"
    static let applicationServerPublicKey = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
    static let applicationServerPrivateKey = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
    static let salt = "DGv6ra1nlYgDCS1FRnbzlw"
    static let body = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_"
        + "yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"

    static func bytes(_ base64url: String) throws -> Data {
        try #require(Data(base64URLEncoded: base64url))
    }
}

@Suite("Web Push encryption (RFC 8291)")
struct WebPushEncryptionTests {
    @Test("Encrypting RFC 8291's example with its keys and salt gives exactly the published message")
    func reproducesTheRFCExample() throws {
        let serverKey = try P256.KeyAgreement.PrivateKey(
            rawRepresentation: RFC8291Example.bytes(RFC8291Example.applicationServerPrivateKey)
        )
        #expect(serverKey.publicKey.x963Representation.base64URLEncodedString() == RFC8291Example.applicationServerPublicKey)

        let body = try WebPushEncryption.encrypt(
            Data(RFC8291Example.plaintext.utf8), userAgentPublicKey: RFC8291Example.bytes(RFC8291Example.userAgentPublicKey),
            authSecret: RFC8291Example.bytes(RFC8291Example.authSecret), serverKey: serverKey,
            salt: RFC8291Example.bytes(RFC8291Example.salt)
        )

        #expect(body.base64URLEncodedString() == RFC8291Example.body)
    }

    @Test("The user agent of RFC 8291's example can open the published message")
    func theRFCUserAgentOpensTheExample() throws {
        let userAgent = TestUserAgent(
            privateKey: try P256.KeyAgreement.PrivateKey(rawRepresentation: RFC8291Example.bytes(RFC8291Example.userAgentPrivateKey)),
            authSecret: try RFC8291Example.bytes(RFC8291Example.authSecret)
        )
        #expect(userAgent.p256dh == RFC8291Example.userAgentPublicKey)

        let plaintext = try userAgent.decrypt(RFC8291Example.bytes(RFC8291Example.body))

        #expect(String(decoding: plaintext, as: UTF8.self) == RFC8291Example.plaintext)
    }

    @Test("A message encrypted with a fresh key and salt opens with the subscription's private key and auth secret")
    func roundTrip() throws {
        let userAgent = TestUserAgent()
        let message = Data(#"{"title":"Hello","body":"ünïcödé 👋"}"#.utf8)

        let first = try WebPushEncryption.encrypt(
            message, userAgentPublicKey: RFC8291Example.bytes(userAgent.p256dh), authSecret: userAgent.authSecret
        )
        let second = try WebPushEncryption.encrypt(
            message, userAgentPublicKey: RFC8291Example.bytes(userAgent.p256dh), authSecret: userAgent.authSecret
        )

        #expect(try userAgent.decrypt(first) == message)
        #expect(try userAgent.decrypt(second) == message)
        // A new salt and ephemeral key every time: the same message never looks the same twice.
        #expect(first.prefix(16) != second.prefix(16))
        #expect(first[21..<86] != second[21..<86])
        #expect(first.count == WebPushEncryption.headerLength + message.count + 1 + 16)
    }

    @Test("Malformed subscription keys and oversized payloads are refused")
    func refusals() throws {
        let userAgent = TestUserAgent()
        let publicKey = try RFC8291Example.bytes(userAgent.p256dh)

        #expect(throws: WebPushEncryption.Failure.invalidUserAgentKey) {
            try WebPushEncryption.encrypt(Data("x".utf8), userAgentPublicKey: publicKey.dropLast(), authSecret: userAgent.authSecret)
        }
        #expect(throws: WebPushEncryption.Failure.invalidAuthSecret) {
            try WebPushEncryption.encrypt(Data("x".utf8), userAgentPublicKey: publicKey, authSecret: Data(count: 8))
        }
        let limit = WebPushEncryption.maxPlaintextLength
        #expect(throws: WebPushEncryption.Failure.payloadTooLarge(size: limit + 1, limit: limit)) {
            try WebPushEncryption.encrypt(Data(count: limit + 1), userAgentPublicKey: publicKey, authSecret: userAgent.authSecret)
        }
        let largest = try WebPushEncryption.encrypt(Data(count: limit), userAgentPublicKey: publicKey, authSecret: userAgent.authSecret)
        #expect(largest.count == 4096)
        #expect(try userAgent.decrypt(largest) == Data(count: limit))
    }
}
