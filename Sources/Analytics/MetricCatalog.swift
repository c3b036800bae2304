/// The size of a series' buckets.
public enum Granularity: String, Sendable, CaseIterable, Hashable {
    case hour, day, week

    /// The most buckets one query may span at this granularity.
    public var maxPoints: Int {
        switch self {
        case .hour: 24 * 31
        case .day: 732
        case .week: 530
        }
    }
}

/// Every metric the API answers, what it is computed from, and how it may be sliced.
public struct MetricDefinition: Sendable {
    public enum Source: Sendable, Equatable {
        /// The size of a bitmap set per bucket (weeks: the union of the week's days).
        case set(String)
        /// Users active in the 7 or 30 days ending with each day.
        case rollingActive(days: Int)
        /// DAU ÷ MAU.
        case stickiness
        /// Users whose first activity falls in the bucket; returning = active − new.
        case newUsers, returningUsers
        /// A counter; `fixedBreakdown` selects one of its breakdown rows (`type=reaction`).
        case counter(String, fixedBreakdown: String?)
        /// Computed from the raw facts at query time.
        case responseRate, firstResponseTime(percentile: Double)
        case timeToAction(percentile: Double)
    }

    public let name: String
    public let description: String
    public let source: Source
    public let granularities: Set<Granularity>
    public let breakdowns: [String]
    /// Whether values are whole counts (JSON integers) rather than ratios or seconds.
    public let isCount: Bool

    init(_ name: String, _ description: String, _ source: Source, granularities: Set<Granularity> = Set(Granularity.allCases),
         breakdowns: [String] = [], isCount: Bool = true) {
        self.name = name
        self.description = description
        self.source = source
        self.granularities = granularities
        self.breakdowns = breakdowns
        self.isCount = isCount
    }
}

public enum MetricCatalog {
    public static let notificationStages = ["requested", "sent", "delivered", "seen", "read", "clicked", "failed"]

    public static let all: [MetricDefinition] = [
        MetricDefinition("active_users", "Distinct users who connected, sent, reacted or read in the bucket (DAU at day granularity).",
                         .set("active")),
        MetricDefinition("wau", "Distinct active users in the 7 days ending with each day.", .rollingActive(days: 7), granularities: [.day]),
        MetricDefinition("mau", "Distinct active users in the 30 days ending with each day.", .rollingActive(days: 30), granularities: [.day]),
        MetricDefinition("stickiness", "DAU ÷ MAU of each day (0 to 1; null when MAU is 0).", .stickiness, granularities: [.day],
                         isCount: false),
        MetricDefinition("new_users", "Active users whose first activity ever falls in the bucket.", .newUsers),
        MetricDefinition("returning_users", "Active users of the bucket who were active before it.", .returningUsers),
        MetricDefinition("senders", "Distinct users who sent a message in the bucket.", .set("senders")),
        MetricDefinition("readers", "Distinct users who moved a read position in the bucket.", .set("readers")),
        MetricDefinition("active_conversations", "Distinct conversations with at least one message in the bucket.", .set("conversations")),
        MetricDefinition("messages", "Messages sent (message.created of a message kind).", .counter("messages", fixedBreakdown: nil),
                         breakdowns: ["kind", "conversation_type"]),
        MetricDefinition("reads", "Read-position moves (conversation.read).", .counter("reads", fixedBreakdown: nil)),
        MetricDefinition("interactions", "Reactions, replies and mentions.", .counter("interactions", fixedBreakdown: nil),
                         breakdowns: ["type"]),
        MetricDefinition("reactions", "Reactions added.", .counter("interactions", fixedBreakdown: "type=reaction")),
        MetricDefinition("replies", "Messages sent as a reply to another.", .counter("interactions", fixedBreakdown: "type=reply")),
        MetricDefinition("mentions", "Users mentioned (one per mentioned user per message).",
                         .counter("interactions", fixedBreakdown: "type=mention")),
        MetricDefinition("response_rate", "Responded turns ÷ closed turns in direct conversations, by the turn's start.", .responseRate,
                         isCount: false),
        MetricDefinition("first_response_time_median", "Median seconds from a turn's first message to the answer (responded turns).",
                         .firstResponseTime(percentile: 0.5), isCount: false),
        MetricDefinition("first_response_time_p90", "90th percentile of the same.", .firstResponseTime(percentile: 0.9), isCount: false),
        MetricDefinition("notifications", "Notification funnel events, by stage.", .counter("notifications", fixedBreakdown: nil),
                         breakdowns: ["stage"]),
    ] + notificationStages.map { stage in
        MetricDefinition("notifications_\(stage)", "Notifications \(stage) (see docs/analytics.md for each stage's event).",
                         .counter("notifications_\(stage)", fixedBreakdown: nil), breakdowns: ["channel", "template"])
    } + [
        MetricDefinition("filter_hits", "Sensitive-word filter hits.", .counter("filter_hits", fixedBreakdown: nil),
                         breakdowns: ["category", "action"]),
        MetricDefinition("reports_opened", "User reports opened.", .counter("reports_opened", fixedBreakdown: nil), breakdowns: ["category"]),
        MetricDefinition("reports_resolved", "User reports resolved.", .counter("reports_resolved", fixedBreakdown: nil),
                         breakdowns: ["resolution"]),
        MetricDefinition("moderation_actions", "Sanctions applied (mute, suspend, ban).", .counter("moderation_actions", fixedBreakdown: nil),
                         breakdowns: ["action"]),
        MetricDefinition("time_to_action_median", "Median seconds from a report opened to resolved, by resolution time.",
                         .timeToAction(percentile: 0.5), isCount: false),
        MetricDefinition("time_to_action_p90", "90th percentile of the same.", .timeToAction(percentile: 0.9), isCount: false),
    ]

    public static let byName: [String: MetricDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}
