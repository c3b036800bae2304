import Foundation
import Logging
import ParleyCore
import ParleyStorage
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

/// Flood, duplicate, copy-paste-campaign and mention-flood detection. `inspect` counts in this node's memory
/// (bounded: at most `maxSenders` senders are tracked, the least recently active are forgotten first); `check`
/// counts, given `sharedIn` (PostgreSQL, several nodes), in the database every node uses, so a sender whose
/// connections are spread over nodes meets the same windows (one round trip per message), and falls back to this
/// node's count while the database does not answer. Time comes from the injected clock.
///
/// Both check and record: a message is counted in the windows whether or not it passes.
public final class FloodDetector: Sendable {
    public let settings: FloodSettings
    let clock: any WallClock
    private let shared: SharedFloodMarks?
    private let logger: Logger
    private let fallbackWarning = ThrottledWarning()

    struct Print {
        var hash: UInt64
        var conversation: String
        var at: Double
    }

    /// One sender's windows. Every queue is in arrival order and expires from its front, so a message costs about
    /// the same however many the windows hold (a flooder's keep filling: refused messages are recorded too).
    struct SenderState {
        var sent = ArrivalQueue<Void>()
        var perConversation: [String: ArrivalQueue<Void>] = [:]
        /// Normalised texts within the duplicate TTL, with when each was last sent; `textArrivals` expires them.
        var recentTexts: [String: Double] = [:]
        var textArrivals = ArrivalQueue<String>()
        var prints: [Print] = []
        var mentions = ArrivalQueue<Int>()
        var mentionTotal = 0
        var lastSeen: Double = 0
    }

    private let senders = Mutex<[String: SenderState]>([:])

    /// `sharedIn`: the PostgreSQL database every node uses, to count across nodes (nil: this node counts alone).
    public init(settings: FloodSettings = FloodSettings(), clock: any WallClock, sharedIn database: Database? = nil,
                logger: Logger = Logger(label: "parley.flood")) {
        self.settings = settings
        self.clock = clock
        self.shared = database.map { SharedFloodMarks(database: $0) }
        self.logger = logger
    }

    public var trackedSenders: Int { senders.withLock { $0.count } }

    /// `inspect`, on the counts every node shares when there are some. This node counts the message too, so that
    /// it can decide alone, with what it saw, while the database does not answer.
    public func check(sender: String, conversation: String?, text: String?, mentions: Int) async -> FloodFinding {
        let text = InspectedText(text, settings: settings)
        let alone = inspect(sender: sender, conversation: conversation, text: text, mentions: mentions)
        guard let shared else { return alone }
        let now = clock.now()
        do {
            let counts = try await shared.inspect(
                sender: sender, conversation: conversation,
                textKey: text.duplicateKey.map(StableTextHash.of),
                fingerprint: text.fingerprint, mentions: mentions, at: now.timeIntervalSince1970, settings: settings
            )
            return finding(sent: counts.sent, inConversation: counts.inConversation, mentions: mentions,
                           windowMentions: counts.windowMentions, duplicate: counts.duplicate, campaign: counts.campaign)
        } catch {
            fallbackWarning.log("shared flood detection unavailable; counting on this node", error: error, at: now, to: logger)
            return alone
        }
    }

    /// Deletes shared marks older than every window; returns how many. Nothing to do without shared marks (this
    /// node's are bounded in memory).
    public func pruneShared() async throws -> Int {
        guard let shared else { return 0 }
        let horizon = [settings.senderWindow, settings.conversationWindow, settings.duplicateTTL, settings.mentionWindow,
                       settings.campaignWindow].max() ?? 0
        return try await shared.prune(before: clock.now().timeIntervalSince1970, horizon: horizon)
    }

    /// Checks one message of `sender` in `conversation` with `text` and `mentions`, and records it.
    /// Findings are returned in order of severity: flood, mention flood, duplicate, campaign.
    public func inspect(sender: String, conversation: String?, text: String?, mentions: Int) -> FloodFinding {
        inspect(sender: sender, conversation: conversation, text: InspectedText(text, settings: settings), mentions: mentions)
    }

    /// A message's text as the checks compare it: normalised, when it is long enough for duplicate checks, and its
    /// SimHash when it is long enough for campaigns.
    struct InspectedText {
        var duplicateKey: String?
        var fingerprint: UInt64?

        init(_ text: String?, settings: FloodSettings) {
            let normalised = text.map(DuplicateText.normalise) ?? ""
            let length = normalised.count
            duplicateKey = length >= settings.duplicateMinLength ? normalised : nil
            fingerprint = length >= settings.campaignMinLength ? SimHash.fingerprint(normalised) : nil
        }
    }

    private func inspect(sender: String, conversation: String?, text: InspectedText, mentions: Int) -> FloodFinding {
        let now = clock.now().timeIntervalSince1970
        return senders.withLock { senders in
            // In place: a copy of the state taken out of the dictionary would copy every queue on its first change.
            let finding = record(into: &senders[sender, default: SenderState()], conversation: conversation, text: text,
                                 mentions: mentions, at: now)
            if senders.count > settings.maxSenders { evict(&senders) }
            return finding
        }
    }

    /// Slides the sender's windows to `now`, counts the message in them and returns the finding.
    private func record(into state: inout SenderState, conversation: String?, text: InspectedText, mentions: Int,
                        at now: Double) -> FloodFinding {
        state.lastSeen = now
        // One past a limit is all the finding needs.
        let sent = state.sent.count(arrivalAt: now, after: now - settings.senderWindow, keepingAtMost: settings.senderLimit + 1)
        var conversationCount = 0
        if let conversation {
            let cutoff = now - settings.conversationWindow
            conversationCount = state.perConversation[conversation, default: ArrivalQueue()]
                .count(arrivalAt: now, after: cutoff, keepingAtMost: settings.conversationLimit + 1)
            // Conversations gone quiet are forgotten once a sender has many.
            if state.perConversation.count > 16 {
                state.perConversation = state.perConversation.filter { ($0.value.lastArrival ?? 0) > cutoff }
            }
        }
        while let oldest = state.mentions.first, oldest.at <= now - settings.mentionWindow {
            state.mentions.removeFirst()
            state.mentionTotal -= oldest.value
        }
        if mentions > 0 {
            state.mentions.append(mentions, at: now)
            state.mentionTotal += mentions
        }
        while let oldest = state.textArrivals.first, oldest.at <= now - settings.duplicateTTL {
            state.textArrivals.removeFirst()
            // Only if it was not sent again since.
            if state.recentTexts[oldest.value] == oldest.at { state.recentTexts.removeValue(forKey: oldest.value) }
        }
        var duplicate = false
        if let key = text.duplicateKey {
            duplicate = state.recentTexts[key] != nil
            state.recentTexts[key] = now
            state.textArrivals.append(key, at: now)
        }
        var campaign = 0
        if let fingerprint = text.fingerprint {
            state.prints.removeAll { $0.at <= now - settings.campaignWindow }
            var conversations: Set<String> = [conversation ?? ""]
            for print in state.prints where SimHash.distance(print.hash, fingerprint) <= settings.nearDistance {
                conversations.insert(print.conversation)
            }
            campaign = conversations.count
            state.prints.append(Print(hash: fingerprint, conversation: conversation ?? "", at: now))
            if state.prints.count > settings.fingerprintsPerSender { state.prints.removeFirst(state.prints.count - settings.fingerprintsPerSender) }
        }
        return finding(sent: sent, inConversation: conversationCount, mentions: mentions,
                       windowMentions: state.mentionTotal, duplicate: duplicate, campaign: campaign)
    }

    /// The finding for what the windows hold with the message counted, in order of severity.
    func finding(sent: Int, inConversation: Int, mentions: Int, windowMentions: Int, duplicate: Bool, campaign: Int) -> FloodFinding {
        if sent > settings.senderLimit { return .flood(scope: "sender") }
        if inConversation > settings.conversationLimit { return .flood(scope: "conversation") }
        if mentions > settings.mentionsPerMessage { return .mentionFlood(count: mentions, scope: "message") }
        if windowMentions > settings.mentionLimit { return .mentionFlood(count: windowMentions, scope: "window") }
        if duplicate { return .duplicate }
        if campaign >= settings.campaignConversations { return .campaign(conversations: campaign) }
        return .clean
    }

    /// Forgets the least recently active tenth of the senders.
    func evict(_ senders: inout [String: SenderState]) {
        let drop = max(1, senders.count - settings.maxSenders * 9 / 10)
        for (key, _) in senders.sorted(by: { $0.value.lastSeen < $1.value.lastSeen }).prefix(drop) {
            senders.removeValue(forKey: key)
        }
    }
}

/// Values in arrival order, expired from the front: the front moves by an index (the array is compacted once most of
/// it is behind), so dropping the oldest is O(1) instead of shifting every later element.
struct ArrivalQueue<Value> {
    private var items: [(at: Double, value: Value)] = []
    private var head = 0

    var count: Int { items.count - head }
    var first: (at: Double, value: Value)? { head < items.count ? items[head] : nil }
    var lastArrival: Double? { head < items.count ? items[items.count - 1].at : nil }

    mutating func append(_ value: Value, at time: Double) {
        items.append((time, value))
    }

    mutating func removeFirst() {
        guard head < items.count else { return }
        head += 1
        if head >= 32, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Drops what arrived at or before `cutoff`.
    mutating func expire(through cutoff: Double) {
        while let oldest = first, oldest.at <= cutoff { removeFirst() }
    }
}

extension ArrivalQueue where Value == Void {
    /// Counts an arrival at `now` in a window of what arrived after `cutoff`, remembering at most `cap` of them (the
    /// newest); returns how many it holds.
    mutating func count(arrivalAt now: Double, after cutoff: Double, keepingAtMost cap: Int) -> Int {
        expire(through: cutoff)
        append((), at: now)
        while count > max(1, cap) { removeFirst() }
        return count
    }
}
