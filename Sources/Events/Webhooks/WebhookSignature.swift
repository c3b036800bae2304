import Crypto
import Foundation
import ParleyCore

/// How Parley signs webhook requests, and how a receiver verifies them.
///
/// Header: `Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
/// A receiver recomputes the HMAC over the timestamp and the raw body, compares in constant time, and
/// rejects timestamps outside its tolerance (5 minutes by default) so a captured request cannot be
/// replayed later. docs/webhooks.md shows the same in a few lines of Python.
public enum WebhookSignature {
    public static let header = "Parley-Signature"

    public static func sign(body: Data, secret: String, timestamp: Int) -> String {
        "t=\(timestamp),v1=\(hmacHex(body: body, secret: secret, timestamp: timestamp))"
    }

    public static func hmacHex(body: Data, secret: String, timestamp: Int) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `headerValue` is a valid signature of `body` made within `tolerance` seconds of `now`.
    public static func verify(headerValue: String, body: Data, secret: String, now: Date, tolerance: TimeInterval = 300) -> Bool {
        var timestamp: Int?
        var signatures: [String] = []
        for part in headerValue.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int(pair[1]) }
            if pair[0] == "v1" { signatures.append(pair[1]) }
        }
        guard let timestamp, abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else { return false }
        let expected = hmacHex(body: body, secret: secret, timestamp: timestamp)
        return signatures.contains { constantTimeEquals($0, expected) }
    }
}
