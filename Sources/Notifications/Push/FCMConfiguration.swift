import Foundation
import ParleyCore

/// The settings of the FCM sender: the Firebase project's service account. Stored as JSON:
/// `{"service_account": {...the key file Google downloads...}, "base_url"?}`.
public struct FCMConfiguration: Codable, Sendable, Equatable {
    public static let defaultBaseURL = "https://fcm.googleapis.com"

    public var serviceAccount: GoogleServiceAccount
    /// Overrides the FCM API's base URL (tests, a relay); nil for Google's.
    public var baseURL: String?

    enum CodingKeys: String, CodingKey {
        case serviceAccount = "service_account"
        case baseURL = "base_url"
    }

    public init(serviceAccount: GoogleServiceAccount, baseURL: String? = nil) {
        self.serviceAccount = serviceAccount
        self.baseURL = baseURL
    }

    /// Reads and validates the stored JSON.
    /// - Throws: `ParleyError.invalidField` naming the missing, unknown or malformed field
    ///   (`service_account.private_key`, ...).
    public init(json: JSONValue) throws(ParleyError) {
        let fields = try PushConfigurationFields(json, allowed: ["service_account", "base_url"])
        guard let account = fields.object["service_account"], account != .null else {
            throw .invalidField("service_account", "is required")
        }
        self.init(
            serviceAccount: try GoogleServiceAccount(json: account, prefix: "service_account."), baseURL: try fields.baseURL("base_url")
        )
    }

    /// The JSON stored for this configuration.
    public var json: JSONValue {
        var object: [String: JSONValue] = ["service_account": serviceAccount.json]
        if let baseURL { object["base_url"] = .string(baseURL) }
        return .object(object)
    }

    /// The base URL without a trailing slash.
    public var resolvedBaseURL: String {
        let url = baseURL ?? Self.defaultBaseURL
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// Checks every field.
    /// - Throws: `ParleyError.invalidField` naming the faulty field.
    public func validate() throws(ParleyError) {
        _ = try serviceAccount.signingKey(prefix: "service_account.")
        if let baseURL, !PushHTTP.isAcceptableURL(baseURL) {
            throw .invalidField("base_url", "must be an https URL (plain http only to localhost)")
        }
    }
}
