import Foundation
import ParleyCore

/// An FCM v1 error body, `{"error": {"code", "message", "status", "details": [...]}}`, read for the codes
/// that decide what happens to the device.
///
/// FCM puts the general status (`NOT_FOUND`, `INVALID_ARGUMENT`) in `status` and its own code
/// (`UNREGISTERED`, `SENDER_ID_MISMATCH`) in a `google.firebase.fcm.v1.FcmError` detail; both are collected.
struct FCMError {
    var status: String?
    var message: String?
    /// `status` and every detail's `errorCode`.
    var codes: Set<String> = []
    /// The fields a `BadRequest` detail names (`message.token`).
    var violatedFields: [String] = []

    init(_ body: Data) {
        guard let error = PushHTTP.object(body)?["error"]?.objectValue else { return }
        status = error["status"]?.stringValue
        message = error["message"]?.stringValue
        if let status { codes.insert(status) }
        if case .array(let details)? = error["details"] {
            for detail in details {
                if let code = detail["errorCode"]?.stringValue { codes.insert(code) }
                if case .array(let violations)? = detail["fieldViolations"] {
                    violatedFields += violations.compactMap { $0["field"]?.stringValue }
                }
            }
        }
    }

    /// Whether an `INVALID_ARGUMENT` is about the registration token (malformed or from another app) rather
    /// than the message: only then is the device to be forgotten.
    var concernsToken: Bool {
        if violatedFields.contains("message.token") { return true }
        return message?.lowercased().contains("registration token") == true
    }

    func describe(status code: Int) -> String {
        let parts = [codes.sorted().joined(separator: "/"), message ?? ""].filter { !$0.isEmpty }
        return "HTTP \(code)" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ": "))
    }
}
