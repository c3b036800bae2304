import Crypto
import Foundation
import ParleyCore

/// What the three push senders share about talking HTTP to a push service.
enum PushHTTP {
    /// https, or plain http only to a loopback host: credentials and payloads never cross a network in the
    /// clear, while tests and local relays still work.
    static func isAcceptableURL(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty
        else { return false }
        switch scheme {
        case "https": return true
        case "http": return ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
        default: return false
        }
    }

    /// Sends `request`, turning a connection failure or timeout into a retryable `ChannelFailure`.
    static func send(_ request: OutboundRequest, through http: any OutboundHTTP, service: String) async throws -> OutboundResponse {
        do {
            return try await http.send(request)
        } catch {
            throw ChannelFailure("\(service) request failed: \(error)")
        }
    }

    /// The start of a response body, for failure reasons (push services explain refusals in small JSON bodies).
    static func snippet(_ body: Data) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "" : ": \(text)"
    }

    /// Whole seconds, never negative.
    static func seconds(_ duration: Duration) -> Int {
        max(0, Int(duration.components.seconds))
    }

    /// Compact JSON text with sorted keys (stable bodies make logs and tests readable).
    static func json(_ value: JSONValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// A JSON response body as an object, or nil when it is not one.
    static func object(_ body: Data) -> [String: JSONValue]? {
        (try? JSONDecoder().decode(JSONValue.self, from: body))?.objectValue
    }

    /// A stable short digest of `text`, base64url: for ids that must fit a service's limit.
    static func digest(_ text: String) -> String {
        Data(SHA256.hash(data: Data(text.utf8))).base64URLEncodedString()
    }
}
