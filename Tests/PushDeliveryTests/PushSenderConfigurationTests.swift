import Crypto
import _CryptoExtras
import Foundation
import Notifications
import ParleyCore
import ParleyOutbound
import Testing

@Suite("Push sender configurations stored as JSON")
struct PushSenderConfigurationTests {
    /// The field a configuration was refused for, or nil when it was accepted.
    static func refusedField(_ type: PushPlatform, _ config: JSONValue) -> String? {
        do {
            _ = try PushSenderFactory.make(type: type, config: config, http: AsyncHTTPOutbound())
            return nil
        } catch {
            #expect(error.code == "request.invalid_field", "\(error)")
            return error.details["field"]?.stringValue
        }
    }

    static func webPush() -> [String: JSONValue] {
        let keys = WebPushSender.generateVAPIDKeyPair()
        return [
            "vapid_public_key": .string(keys.publicKey), "vapid_private_key": .string(keys.privateKey),
            "subject": "mailto:ops@example.com",
        ]
    }

    static func apns() -> [String: JSONValue] {
        [
            "team_id": "TEAM123456", "key_id": "KEY987654A", "private_key": .string(P256.Signing.PrivateKey().pemRepresentation),
            "topic": "com.example.app",
        ]
    }

    static func fcm(privateKey: String) -> [String: JSONValue] {
        ["service_account": [
            "type": "service_account", "project_id": "parley-test", "private_key": .string(privateKey),
            "client_email": "push@parley-test.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token",
        ]]
    }

    static func with(_ object: [String: JSONValue], _ key: String, _ value: JSONValue?) -> JSONValue {
        var object = object
        object[key] = value
        return .object(object)
    }

    /// The field refused when `key` of the valid configuration `base` is set to `value` (removed for nil).
    static func refused(_ type: PushPlatform, _ base: [String: JSONValue], _ key: String, _ value: JSONValue?) -> String? {
        refusedField(type, with(base, key, value))
    }

    @Test("A valid configuration of each platform builds a sender of that platform, and its JSON round-trips")
    func validConfigurations() throws {
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048).pkcs8PEMRepresentation
        for (type, config) in [(PushPlatform.webpush, Self.webPush()), (.apns, Self.apns()), (.fcm, Self.fcm(privateKey: rsa))] {
            let sender = try PushSenderFactory.make(type: type, config: .object(config), http: AsyncHTTPOutbound())
            #expect(sender.platform == type)
            try PushSenderFactory.validate(type: type, config: .object(config))
        }
        let apns = try APNsConfiguration(json: Self.with(Self.apns(), "sandbox_url", "http://127.0.0.1:8443/"))
        #expect(try APNsConfiguration(json: apns.json) == apns)
        #expect(apns.resolvedSandboxURL == "http://127.0.0.1:8443")
        #expect(apns.resolvedProductionURL == APNsConfiguration.defaultProductionURL)
        let web = try WebPushConfiguration(json: .object(Self.webPush()))
        #expect(try WebPushConfiguration(json: web.json) == web)
        let fcm = try FCMConfiguration(json: .object(Self.fcm(privateKey: rsa)))
        #expect(try FCMConfiguration(json: fcm.json) == fcm)
        #expect(fcm.resolvedBaseURL == FCMConfiguration.defaultBaseURL)
    }

    @Test("Web Push: a missing, malformed or mismatched VAPID key, a bad subject or an unknown key is refused by name")
    func webPushRefusals() throws {
        let valid = Self.webPush()
        let other = WebPushSender.generateVAPIDKeyPair()
        #expect(Self.refused(.webpush, valid, "vapid_private_key", nil) == "vapid_private_key")
        #expect(Self.refused(.webpush, valid, "vapid_private_key", "AAAA") == "vapid_private_key")
        #expect(Self.refused(.webpush, valid, "vapid_private_key", "not base64!") == "vapid_private_key")
        #expect(Self.refused(.webpush, valid, "vapid_public_key", .string(other.publicKey)) == "vapid_public_key")
        #expect(Self.refused(.webpush, valid, "vapid_public_key", .string(String(other.publicKey.prefix(43)))) == "vapid_public_key")
        #expect(Self.refused(.webpush, valid, "subject", "ops@example.com") == "subject")
        #expect(Self.refused(.webpush, valid, "subject", "http://example.com") == "subject")
        #expect(Self.refused(.webpush, valid, "subject", 42) == "subject")
        #expect(Self.refused(.webpush, valid, "vapid_key", "x") == "vapid_key")
        #expect(Self.refusedField(.webpush, "not an object") == "config")
    }

    @Test("APNs: a PEM that is not a P-256 key, a bad id, an empty topic or a plain-http gateway is refused by name")
    func apnsRefusals() throws {
        let valid = Self.apns()
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048).pkcs8PEMRepresentation
        let garbledPEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        #expect(Self.refused(.apns, valid, "private_key", "MIGHAgEAMBMGByqGSM49") == "private_key")
        #expect(Self.refused(.apns, valid, "private_key", .string(rsa)) == "private_key")
        #expect(Self.refused(.apns, valid, "private_key", .string(garbledPEM)) == "private_key")
        #expect(Self.refused(.apns, valid, "team_id", "TEAM 1") == "team_id")
        #expect(Self.refused(.apns, valid, "key_id", nil) == "key_id")
        #expect(Self.refused(.apns, valid, "topic", "  ") == "topic")
        #expect(Self.refused(.apns, valid, "production_url", "http://api.push.apple.com") == "production_url")
        #expect(Self.refused(.apns, valid, "sandbox_url", "ftp://example.com") == "sandbox_url")
    }

    @Test("FCM: a missing account, a key that is not RSA or too short, or a bad token URI is refused by its path")
    func fcmRefusals() throws {
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048).pkcs8PEMRepresentation
        let valid = Self.fcm(privateKey: rsa)
        let account = try #require(valid["service_account"]?.objectValue)
        func refusedAccount(_ key: String, _ value: JSONValue?) -> String? {
            Self.refused(.fcm, valid, "service_account", Self.with(account, key, value))
        }
        let short = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024)).pkcs8PEMRepresentation
        #expect(Self.refusedField(.fcm, ["base_url": "https://fcm.googleapis.com"]) == "service_account")
        #expect(refusedAccount("private_key", "junk") == "service_account.private_key")
        #expect(refusedAccount("private_key", .string(short)) == "service_account.private_key")
        #expect(refusedAccount("private_key", .string(P256.Signing.PrivateKey().pemRepresentation)) == "service_account.private_key")
        #expect(refusedAccount("project_id", nil) == "service_account.project_id")
        #expect(refusedAccount("token_uri", "http://evil.example.com/token") == "service_account.token_uri")
        #expect(refusedAccount("type", "authorized_user") == "service_account.type")
        #expect(Self.refused(.fcm, valid, "base_url", "not a url") == "base_url")
    }
}
