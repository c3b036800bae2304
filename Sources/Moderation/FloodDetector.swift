import Foundation
import ParleyCore
import Synchronization

/// Settings of `FloodDetector`; every window and bound in one place.
public struct FloodSettings: Sendable {
    /// At most `senderLimit` messages per `senderWindow` from one sender, anywhere.
    public var senderWindow: TimeInterval = 60
    public var senderLimit = 120
    /// At most `conversationLimit` messages per `conversationWindow` from one sender in one conversation
    /// (Mjolnir bans at 10/min; chat is burstier).
    public var conversationWindow: TimeInterval = 60
    public var conversationLimit = 40
    /// The same sender repeating the same normalised text within `duplicateTTL` is refused.
    public var duplicateTTL: TimeInterval = 60
    /// Texts shorter than this (normalised) are exempt from duplicate checks ("ok", "lol").
    public var duplicateMinLength = 6
    /// Near-duplicates: fingerprints at most `nearDistance` bits apart, from one sender, in at least
    /// `campaignConversations` different conversations within `campaignWindow` are a copy-paste campaign.
    public var nearDistance = 6
    public var campaignConversations = 4
    public var campaignWindow: TimeInterval = 600
    /// Texts shorter than this (normalised) are exempt from campaign checks.
    public var campaignMinLength = 16
    /// Mentions: at most `mentionsPerMessage` in one message and `mentionLimit` per `mentionWindow` per sender.
    public var mentionsPerMessage = 10
    public var mentionWindow: TimeInterval = 60
    public var mentionLimit = 30
    /// The bound on tracked senders (per kind of state); the least recently active are dropped first.
    public var maxSenders = 50_000
    /// Remembered fingerprints per sender.
    public var fingerprintsPerSender = 32

    public init() {}
}

/// What the flood checks find about one message.
public enum FloodFinding: Sendable, Equatable {
    case clean
    /// Too many messages in a window (`scope` is `sender` or `conversation`).
    case flood(scope: String)
    case duplicate
    /// Near-duplicates of this text went to `conversations` distinct conversations within the window.
    case campaign(conversations: Int)
    case mentionFlood(count: Int, scope: String)
}

/// Flood, duplicate, copy-paste-campaign and mention-flood detection, in memory and **per node**: with
/// several nodes each counts what it sees, so a sender spread over nodes is caught later. Bounded: at most
/// `maxSenders` senders are tracked, the least recently active are forgotten first. Time comes from the
/// injected clock.
///
/// `inspect` both checks and records: a message is counted in the windows whether or not it passes.
public final class FloodDetector: Sendable {
    public let settings: FloodSettings
    let clock: any WallClock

    struct Print {
        var hash: UInt64
        var conversation: String
        var at: Double
    }

    struct SenderState {
        var sent: [Double] = []
        var perConversation: [String: [Double]] = [:]
        var recentTexts: [String: Double] = [:]
        var prints: [Print] = []
        var mentions: [(at: Double, count: Int)] = []
        var lastSeen: Double = 0
    }

    private let senders = Mutex<[String: SenderState]>([:])

    public init(settings: FloodSettings = FloodSettings(), clock: any WallClock) {
        self.settings = settings
        self.clock = clock
    }

    public var trackedSenders: Int { senders.withLock { $0.count } }

    /// Checks one message of `sender` in `conversation` with `text` and `mentions`, and records it.
    /// Findings are returned in order of severity: flood, mention flood, duplicate, campaign.
    public func inspect(sender: String, conversation: String?, text: String?, mentions: Int) -> FloodFinding {
        let now = clock.now().timeIntervalSince1970
        let normalised = text.map(DuplicateText.normalise) ?? ""
        let fingerprint = normalised.count >= settings.campaignMinLength ? SimHash.fingerprint(normalised) : nil
        return senders.withLock { senders in
            var state = senders[sender] ?? SenderState()
            defer {
                state.lastSeen = now
                senders[sender] = state
                if senders.count > settings.maxSenders { evict(&senders) }
            }
            // Windows slide: drop what fell out, then count this message.
            state.sent.removeAll { $0 <= now - settings.senderWindow }
            state.sent.append(now)
            if state.sent.count > settings.senderLimit + 1 { state.sent.removeFirst(state.sent.count - settings.senderLimit - 1) }
            var conversationCount = 0
            if let conversation {
                var times = state.perConversation[conversation] ?? []
                times.removeAll { $0 <= now - settings.conversationWindow }
                times.append(now)
                if times.count > settings.conversationLimit + 1 { times.removeFirst(times.count - settings.conversationLimit - 1) }
                state.perConversation[conversation] = times
                conversationCount = times.count
                state.perConversation = state.perConversation.filter { !$0.value.isEmpty && $0.value.last! > now - settings.conversationWindow }
            }
            state.mentions.removeAll { $0.at <= now - settings.mentionWindow }
            if mentions > 0 { state.mentions.append((now, mentions)) }
            let windowMentions = state.mentions.reduce(0) { $0 + $1.count }
            state.recentTexts = state.recentTexts.filter { $0.value > now - settings.duplicateTTL }
            let duplicate = normalised.count >= settings.duplicateMinLength && state.recentTexts[normalised] != nil
            if normalised.count >= settings.duplicateMinLength { state.recentTexts[normalised] = now }
            var campaign = 0
            if let fingerprint {
                state.prints.removeAll { $0.at <= now - settings.campaignWindow }
                var conversations: Set<String> = [conversation ?? ""]
                for print in state.prints where SimHash.distance(print.hash, fingerprint) <= settings.nearDistance {
                    conversations.insert(print.conversation)
                }
                campaign = conversations.count
                state.prints.append(Print(hash: fingerprint, conversation: conversation ?? "", at: now))
                if state.prints.count > settings.fingerprintsPerSender { state.prints.removeFirst(state.prints.count - settings.fingerprintsPerSender) }
            }
            if state.sent.count > settings.senderLimit { return .flood(scope: "sender") }
            if conversationCount > settings.conversationLimit { return .flood(scope: "conversation") }
            if mentions > settings.mentionsPerMessage { return .mentionFlood(count: mentions, scope: "message") }
            if windowMentions > settings.mentionLimit { return .mentionFlood(count: windowMentions, scope: "window") }
            if duplicate { return .duplicate }
            if campaign >= settings.campaignConversations { return .campaign(conversations: campaign) }
            return .clean
        }
    }

    /// Forgets the least recently active tenth of the senders.
    func evict(_ senders: inout [String: SenderState]) {
        let drop = max(1, senders.count - settings.maxSenders * 9 / 10)
        for (key, _) in senders.sorted(by: { $0.value.lastSeen < $1.value.lastSeen }).prefix(drop) {
            senders.removeValue(forKey: key)
        }
    }
}
