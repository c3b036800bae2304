import Crypto
import Foundation
import ParleyCore

/// Sends pushes to Apple devices through the APNs HTTP/2 provider API, authenticated with a provider token
/// (ES256 JWT) signed by the team's `.p8` key.
///
/// Each device goes to the production or the sandbox gateway by its `sandbox` flag, with its `appID` (or the
/// configured topic) as `apns-topic`. Results: 200 → `.accepted(id:)` with the `apns-id` sent; 410, or 400
/// `BadDeviceToken`/`Unregistered`/`DeviceTokenNotForTopic` → `.deviceGone`; 403 `ExpiredProviderToken` →
/// a new token and one retry; other 4xx → permanent `ChannelFailure` with Apple's reason; 429, 5xx and
/// connection failures → retryable. `OutboundHTTP` must speak HTTP/2 (AsyncHTTPOutbound negotiates it),
/// as APNs accepts nothing else.
public struct APNsSender: PushSender {
    public let platform = PushPlatform.apns
    let topic: String
    let productionURL: String
    let sandboxURL: String
    let providerToken: APNsProviderToken
    let http: any OutboundHTTP
    let clock: any WallClock
    let timeout: Duration

    /// Reasons with which APNs says the token will never work again for this app.
    static let goneReasons: Set<String> = ["BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"]

    /// - Throws: `ParleyError.invalidField` when the key, an id, the topic or a URL is malformed.
    public init(
        configuration: APNsConfiguration, http: any OutboundHTTP, clock: any WallClock = SystemWallClock(),
        timeout: Duration = .seconds(10)
    ) throws(ParleyError) {
        let key = try configuration.signingKey()
        self.topic = configuration.topic
        self.productionURL = configuration.resolvedProductionURL
        self.sandboxURL = configuration.resolvedSandboxURL
        self.providerToken = APNsProviderToken(teamID: configuration.teamID, keyID: configuration.keyID, key: key, clock: clock)
        self.http = http
        self.clock = clock
        self.timeout = timeout
    }

    public func send(_ content: PushContent, to device: PushDevice) async throws -> PushSendResult {
        guard !device.token.isEmpty, device.token.allSatisfy(\.isHexDigit) else {
            return .deviceGone(reason: "BadDeviceToken: the APNs device token is not hexadecimal")
        }
        let apnsID = Self.apnsID(notificationID: content.notificationID, deviceID: device.id)
        let body = try Self.payload(content)
        var retriedWithNewToken = false
        while true {
            let token = try providerToken.current()
            let request = OutboundRequest(
                url: "\(device.sandbox ? sandboxURL : productionURL)/3/device/\(device.token)",
                headers: headers(content, device: device, token: token, apnsID: apnsID), body: body, timeout: timeout
            )
            let response = try await PushHTTP.send(request, through: http, service: "APNs")
            let reason = PushHTTP.object(response.body)?["reason"]?.stringValue
            switch response.status {
            case 200:
                return .accepted(id: apnsID)
            case 410:
                return .deviceGone(reason: reason ?? "Unregistered")
            case 400 where reason.map(Self.goneReasons.contains) == true:
                return .deviceGone(reason: reason ?? "BadDeviceToken")
            case 403 where reason == "ExpiredProviderToken" && !retriedWithNewToken:
                providerToken.invalidate(token)
                retriedWithNewToken = true
                continue
            case 403 where reason == "ExpiredProviderToken":
                // A fresh token called expired: the clock is probably off. Retry later rather than give up.
                throw ChannelFailure("APNs called a freshly signed provider token expired (is the clock right?)")
            case 429, 500...:
                throw ChannelFailure("APNs answered HTTP \(response.status)\(reason.map { ": \($0)" } ?? "")")
            default:
                throw ChannelFailure(
                    "APNs refused it: HTTP \(response.status)\(reason.map { ": \($0)" } ?? PushHTTP.snippet(response.body))",
                    permanent: true
                )
            }
        }
    }

    func headers(_ content: PushContent, device: PushDevice, token: String, apnsID: String) -> [(String, String)] {
        let expiration = Int(clock.now().timeIntervalSince1970) + PushHTTP.seconds(content.timeToLive)
        var headers: [(String, String)] = [
            ("authorization", "bearer \(token)"),
            ("apns-topic", device.appID ?? topic),
            ("apns-push-type", "alert"),
            ("apns-priority", content.urgent ? "10" : "5"),
            ("apns-expiration", String(expiration)),
            ("apns-id", apnsID),
            ("content-type", "application/json"),
        ]
        if let collapseID = content.collapseID { headers.append(("apns-collapse-id", Self.collapseID(collapseID))) }
        return headers
    }

    /// `{"aps": {...}, <data keys>, "notification_id", "category", "click_url"?}`: the app's notification
    /// service extension (`mutable-content`) and tap handler read Parley's keys beside the template's data.
    static func payload(_ content: PushContent) throws -> Data {
        var aps: [String: JSONValue] = [
            "alert": ["title": .string(content.title), "body": .string(content.body)],
            "sound": "default",
            "mutable-content": 1,
        ]
        if let badge = content.badge { aps["badge"] = .int(badge) }
        if let collapseID = content.collapseID { aps["thread-id"] = .string(collapseID) }
        var root = content.data
        root["aps"] = .object(aps)
        root["notification_id"] = .string(content.notificationID)
        root["category"] = .string(content.category)
        if let clickURL = content.clickURL { root["click_url"] = .string(clickURL) }
        return try PushHTTP.json(.object(root))
    }

    /// APNs takes at most 64 bytes; a longer collapse id is replaced by its (64-character hex) SHA-256.
    static func collapseID(_ collapseID: String) -> String {
        guard collapseID.utf8.count > 64 else { return collapseID }
        return SHA256.hash(data: Data(collapseID.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A UUID derived from the notification and the device, so every attempt of one push carries the same
    /// `apns-id` and Apple's delivery logs can be matched to Parley's deliveries.
    static func apnsID(notificationID: String, deviceID: String) -> String {
        var bytes = Array(SHA256.hash(data: Data("\(notificationID)\u{0}\(deviceID)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50 // version 5 (name-based, SHA hash)
        bytes[8] = (bytes[8] & 0x3F) | 0x80 // RFC 4122 variant
        let uuid = UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        ))
        return uuid.uuidString.lowercased()
    }
}
