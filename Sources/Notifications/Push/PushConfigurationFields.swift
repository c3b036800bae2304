import Foundation
import ParleyCore

/// Reads one JSON object of a push configuration, turning every problem into `ParleyError.invalidField`
/// with the field's full dotted path, so the admin API can say exactly which value to fix.
struct PushConfigurationFields {
    let object: [String: JSONValue]
    /// The path of this object inside the configuration (`service_account.` for the nested Google JSON).
    let prefix: String

    /// Reads `json` as an object; `allowed` lists its accepted keys (nil accepts any, for documents made by
    /// someone else, like Google's service-account JSON).
    init(_ json: JSONValue, prefix: String = "", allowed: Set<String>?) throws(ParleyError) {
        guard let object = json.objectValue else {
            throw .invalidField(prefix.isEmpty ? "config" : String(prefix.dropLast()), "must be a JSON object")
        }
        if let allowed, let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalidField(prefix + unknown, "is not a setting of this push service")
        }
        self.object = object
        self.prefix = prefix
    }

    func path(_ key: String) -> String { prefix + key }

    /// A required, non-empty string.
    func string(_ key: String) throws(ParleyError) -> String {
        guard let value = try optionalString(key) else { throw .invalidField(path(key), "is required") }
        return value
    }

    /// A string that may be absent or null; present, it must be non-empty.
    func optionalString(_ key: String) throws(ParleyError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let value)?:
            guard !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw .invalidField(path(key), "must not be empty")
            }
            return value
        default: throw .invalidField(path(key), "must be a string")
        }
    }

    /// A base URL: https, or plain http only to this machine (a test server or a local relay), so credentials
    /// never cross a network in the clear. Returned without a trailing slash.
    func baseURL(_ key: String) throws(ParleyError) -> String? {
        guard let value = try optionalString(key) else { return nil }
        guard PushHTTP.isAcceptableURL(value) else {
            throw .invalidField(path(key), "must be an https URL (plain http only to localhost)")
        }
        return value.hasSuffix("/") ? String(value.dropLast()) : value
    }
}
