import Foundation
import ParleyCore

/// A message someone wants to send, validated before it reaches the log.
public struct MessageDraft: Sendable, Equatable {
    public static let maxTextLength = 8000
    public static let maxBodyBytes = 32 * 1024
    public static let maxClientMsgIDLength = 128
    public static let maxMentions = 100

    public var conversationID: String
    public var clientMsgID: String?
    public var kind: ItemKind
    public var body: JSONValue
    public var replyTo: String?
    public var mentions: [String]
    public var forwardedFrom: String?

    /// Validates the shape of a message of `kind`. Throws `messaging.invalid_body` or `request.*` errors.
    public init(
        conversationID: String, clientMsgID: String?, kind: ItemKind, body: JSONValue,
        replyTo: String? = nil, mentions: [String] = [], forwardedFrom: String? = nil
    ) throws(ParleyError) {
        guard kind.isMessage else { throw ParleyError.invalidField("kind", "'\(kind.rawValue)' is not a message kind") }
        if let clientMsgID {
            guard !clientMsgID.isEmpty, clientMsgID.utf8.count <= Self.maxClientMsgIDLength else {
                throw ParleyError.invalidField("client_msg_id", "must be 1 to \(Self.maxClientMsgIDLength) bytes")
            }
        }
        guard mentions.count <= Self.maxMentions else { throw ParleyError.invalidField("mentions", "at most \(Self.maxMentions)") }
        for mention in mentions where mention != "@all" {
            guard UserID.isValid(mention) else { throw ParleyError.invalidField("mentions", "'\(mention)' is not a user id or @all") }
        }
        try Self.validate(kind: kind, body: body)
        self.conversationID = conversationID
        self.clientMsgID = clientMsgID
        self.kind = kind
        self.body = body
        self.replyTo = replyTo
        var seen = Set<String>()
        self.mentions = mentions.filter { seen.insert($0).inserted }  // first occurrence of each, in order
        self.forwardedFrom = forwardedFrom
    }

    /// Checks the body of a message (or an edit's new body) against its kind's rules.
    public static func validate(kind: ItemKind, body: JSONValue) throws(ParleyError) {
        guard case .object(let fields) = body else { throw ParleyError.invalidBody("the body must be a JSON object") }
        let size = body.jsonString().utf8.count
        guard size <= maxBodyBytes else { throw ParleyError.fieldTooLong("body", limit: maxBodyBytes) }
        switch kind {
        case .text, .system:
            guard case .string(let text)? = fields["text"] else { throw ParleyError.invalidBody("a \(kind.rawValue) message needs a string 'text'") }
            // Cheap checks first (one per message sent): a text starting with a visible character is not blank, and one
            // of at most maxTextLength UTF-8 bytes has at most that many characters; only the rest are trimmed or counted.
            let startsVisible = text.unicodeScalars.first.map { !CharacterSet.whitespacesAndNewlines.contains($0) } ?? false
            guard startsVisible || !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ParleyError.invalidBody("the text is empty")
            }
            guard text.utf8.count <= maxTextLength || text.count <= maxTextLength else {
                throw ParleyError.fieldTooLong("body.text", limit: maxTextLength)
            }
        case .image, .file, .audio, .video:
            guard case .string(let url)? = fields["url"] ?? fields["media_id"].map({ _ in .string("media:") }), !url.isEmpty else {
                throw ParleyError.invalidBody("a \(kind.rawValue) message needs a 'url' or 'media_id'")
            }
            for numeric in ["size", "width", "height", "duration_ms"] {
                if let value = fields[numeric], value.intValue == nil || value.intValue! < 0 {
                    throw ParleyError.invalidBody("'\(numeric)' must be a non-negative integer")
                }
            }
        case .location:
            guard let latitude = number(fields["lat"]), let longitude = number(fields["lng"]),
                  (-90...90).contains(latitude), (-180...180).contains(longitude) else {
                throw ParleyError.invalidBody("a location needs 'lat' (-90..90) and 'lng' (-180..180)")
            }
        case .custom:
            break
        default:
            throw ParleyError.invalidBody("'\(kind.rawValue)' is not a message kind")
        }
    }

    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let int)?: Double(int)
        case .double(let double)?: double
        default: nil
        }
    }
}
