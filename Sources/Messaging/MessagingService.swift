import Foundation
import ParleyCore
import ParleyStorage
import SQLKit
import Synchronization

/// Who is acting on a conversation: a user (with a token, or the platform's backend acting for them),
/// or the platform itself (system messages, administration through an API key).
public enum MessagingActor: Sendable, Equatable {
    case user(UserID)
    case platform(label: String)

    var senderID: String {
        switch self {
        case .user(let id): id.rawValue
        case .platform: "system"
        }
    }

    var label: String {
        switch self {
        case .user(let id): "user:\(id.rawValue)"
        case .platform(let label): label
        }
    }
}

/// Checks whether users exist and are active: the one thing messaging needs from Identity, wired by the composition root.
public protocol UserDirectory: Sendable {
    /// The ids among `ids` that name active users.
    func activeUsers(among ids: [UserID]) async throws -> Set<UserID>
}

/// Conversations and their message logs: the rules, on top of `MessagingStore`.
///
/// Guarantees: every item gets the next dense `seq` of its conversation inside the transaction that
/// stores it; a send retried with the same `client_msg_id` returns the original receipt; read positions
/// only move forward; unread counts are derived from the log and read positions.
public struct MessagingService: Sendable {
    let store: MessagingStore
    /// Messages just stored by this process, offered to the live fan-out.
    let recentMessages = RecentMessages()
    /// How many `sendAll` batches the database failed, each then stored one transaction per draft.
    let batchFallbacks = BatchFallbacks()
    /// How many sends on PostgreSQL found their conversation changed since `prepare` and were stored the locked way.
    let optimisticStores = OptimisticStores()
    let users: any UserDirectory
    let clock: any WallClock
    let ids: any IDGenerator
    let policy: any ContentPolicy
    /// Reads `policy`'s review needs that it can say in SQL (the author's sanctions), asked in the read before a send.
    let reviewReads: (any ReviewReadsInSQL)?
    let blocks: any BlockRelations
    public let settings: MessagingSettings

    /// How many `sendAll` batches the database failed as a whole since this service started (a deadlock, a lost
    /// connection); their drafts were then stored one transaction each. For operators and tests: it should stay near 0.
    public var sendBatchFallbacks: Int { batchFallbacks.count.load(ordering: .relaxed) }

    /// How many sends (or pipelined runs) on PostgreSQL found their conversation changed between their checks and
    /// their one-statement write since this service started, and were stored under the conversation's lock instead
    /// (one more round trip and a transaction). It grows with several people writing to one conversation at once.
    public var sendsStoredUnderLock: Int { optimisticStores.changed.load(ordering: .relaxed) }

    /// `policy` reviews every message and edit before it is stored (risk control, the platform's hook); `reviewReads`,
    /// when one of its policies can say the reads it needs in SQL, lets a send ask them with its own read.
    public init(database: Database, outbox: any EventOutbox, users: any UserDirectory, clock: any WallClock,
                ids: any IDGenerator, settings: MessagingSettings = MessagingSettings(), policy: any ContentPolicy = AllowAllContent(),
                reviewReads: (any ReviewReadsInSQL)? = nil, blocks: any BlockRelations = NoBlocks()) {
        store = MessagingStore(database: database, outbox: outbox, ids: ids)
        self.users = users
        self.clock = clock
        self.ids = ids
        self.settings = settings
        self.policy = policy
        self.reviewReads = reviewReads
        self.blocks = blocks
    }

    /// Runs the content policy; returns the body to store, or throws the policy's refusal.
    func reviewed(_ body: JSONValue, kind: String, messageKind: ItemKind, actor: MessagingActor,
                  context: [String: JSONValue]) async throws -> JSONValue {
        guard case .user = actor else { return body }  // The platform's own messages are not reviewed.
        let submission = ContentSubmission(kind: kind, actor: actor.label, context: context.merging(["message_kind": .string(messageKind.rawValue)]) { a, _ in a },
                                           body: body)
        switch try await policy.review(submission) {
        case .allow:
            return body
        case .rewrite(let rewritten):
            do {
                try MessageDraft.validate(kind: messageKind, body: rewritten)
            } catch {
                throw ParleyError(.unavailable, code: "messaging.invalid_rewrite",
                                  message: "The content check rewrote the message into something invalid: \(error.message)")
            }
            return rewritten
        case .hold(let reason, let reference):
            throw ParleyError(.unprocessable, code: "moderation.held_for_review",
                              message: "Held for review before it is delivered: \(reason)", details: ["held_id": .string(reference)])
        case .reject(let code, let reason):
            throw ParleyError(.unprocessable, code: code, message: reason, details: ["reason": .string(reason)])
        }
    }

    public static var migrations: MigrationGroup { MessagingStore.migrations }

    var database: Database { store.database }

    // MARK: Creating conversations

    /// The direct conversation between `user` and `other`, created on first use (exactly one per pair).
    public func openDirect(by actor: MessagingActor, user: UserID, with other: UserID) async throws -> (Conversation, created: Bool) {
        guard user != other else { throw ParleyError.cannotMessageSelf }
        try await requireActive([user, other])
        if case .user = actor, try await blocks.eitherBlocks(user, other) { throw ParleyError.blocked }
        let key = [user.rawValue, other.rawValue].sorted().joined(separator: "|")
        if let id = try await store.directConversationID(key: key, on: database.sql),
           let existing = try await store.conversation(id, on: database.sql) {
            return (existing, false)
        }
        let now = clock.now()
        do {
            return try await database.transaction { sql in
                if let id = try await store.directConversationID(key: key, on: sql), let existing = try await store.conversation(id, on: sql) {
                    return (existing, false)
                }
                let conversation = Conversation(id: ids.next(prefix: "c_"), type: .direct, name: "", avatarURL: nil, description: "",
                                                createdBy: actor.senderID, createdAt: now, lastSeq: 0, lastActivityAt: now, dissolvedAt: nil)
                try await store.insertConversation(conversation, directKey: key, on: sql)
                try await store.upsertMembers(conversation.id, [(user, .member), (other, .member)], visibleAfterSeq: 0, at: now, on: sql)
                _ = try await store.appendItem(
                    conversationID: conversation.id, kind: .created, senderID: actor.senderID,
                    body: ["type": "direct", "members": .array([.string(user.rawValue), .string(other.rawValue)])],
                    eventType: "conversation.created", actor: actor.label, at: now, on: sql
                )
                return (try await store.conversation(conversation.id, on: sql) ?? conversation, true)
            }
        } catch where isUniqueViolation(error) {
            // Another request created the pair's conversation at the same moment: it is the one.
            guard let id = try await store.directConversationID(key: key, on: database.sql),
                  let existing = try await store.conversation(id, on: database.sql) else { throw error }
            return (existing, false)
        }
    }

    /// A new group (or broadcast group) owned by `owner`, with `members` as plain members.
    public func createGroup(
        by actor: MessagingActor, owner: UserID, type: ConversationType, name: String, avatarURL: String?, description: String,
        members: [UserID], membersCanInvite: Bool = false
    ) async throws -> Conversation {
        guard type != .direct else { throw ParleyError.invalidField("type", "use a direct conversation for two people") }
        try Self.validateInfo(name: name, avatarURL: avatarURL, description: description)
        let others = Array(Set(members).subtracting([owner])).sorted()
        guard others.count + 1 <= settings.maxGroupMembers else { throw ParleyError.tooManyMembers }
        try await requireActive([owner] + others)
        let now = clock.now()
        return try await database.transaction { sql in
            let conversation = Conversation(id: ids.next(prefix: "c_"), type: type, name: name, avatarURL: avatarURL,
                                            description: description, createdBy: actor.senderID, createdAt: now, lastSeq: 0,
                                            lastActivityAt: now, dissolvedAt: nil, membersCanInvite: membersCanInvite)
            try await store.insertConversation(conversation, directKey: nil, on: sql)
            try await store.upsertMembers(conversation.id, [(owner, .owner)] + others.map { ($0, .member) }, visibleAfterSeq: 0, at: now, on: sql)
            _ = try await store.appendItem(
                conversationID: conversation.id, kind: .created, senderID: actor.senderID,
                body: ["type": .string(type.rawValue), "name": .string(name), "owner": .string(owner.rawValue),
                       "members": .array(([owner] + others).map { .string($0.rawValue) })],
                eventType: "conversation.created", actor: actor.label, at: now, on: sql
            )
            return try await store.conversation(conversation.id, on: sql) ?? conversation
        }
    }

    static func validateInfo(name: String, avatarURL: String?, description: String) throws(ParleyError) {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ParleyError.invalidField("name", "a group needs a name") }
        guard name.count <= 200 else { throw ParleyError.fieldTooLong("name", limit: 200) }
        guard description.count <= 2000 else { throw ParleyError.fieldTooLong("description", limit: 2000) }
        if let avatarURL {
            guard avatarURL.utf8.count <= 2048, let url = URL(string: avatarURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                  url.host != nil else { throw ParleyError.invalidField("avatar_url", "must be an absolute http(s) URL") }
        }
    }

    func requireActive(_ candidates: [UserID]) async throws {
        let active = try await users.activeUsers(among: candidates)
        if let missing = candidates.first(where: { !active.contains($0) }) {
            throw ParleyError.userNotFound(missing.rawValue)
        }
    }

    // MARK: Reading conversations

    /// The conversation, if `actor` may see it (an active member, or the platform).
    public func conversation(_ id: String, for actor: MessagingActor) async throws -> ConversationSummary {
        guard let conversation = try await store.conversation(id, on: database.sql) else { throw ParleyError.conversationNotFound(id) }
        switch actor {
        case .user(let user):
            guard let (member, active) = try await store.member(id, user, on: database.sql), active else {
                throw ParleyError.notMember(id)
            }
            return try await summaries([(conversation, member)], for: user)[0]
        case .platform:
            let count = try await store.activeMemberCount(id, on: database.sql)
            let last = try await store.lastMessages([id], on: database.sql)[id]
            let placeholder = Member(userID: UserID(trusted: "system"), role: .owner, joinedAt: conversation.createdAt, visibleAfterSeq: 0,
                                     readSeq: conversation.lastSeq, mutedUntil: nil, notificationsMuted: false, pinned: false)
            return ConversationSummary(conversation: conversation, membership: placeholder, memberCount: count, unreadCount: 0,
                                       lastMessage: last, peer: nil)
        }
    }

    /// The user's conversations, most recently active first, with unread counts and last messages.
    public func conversations(for user: UserID, page: PageRequest) async throws -> Page<ConversationSummary> {
        var after: (Int64, String)?
        if let cursor = page.cursor {
            let position = try Cursor.decode(cursor)
            let parts = position.split(separator: "|", maxSplits: 1)
            guard parts.count == 2, let activity = Int64(parts[0]) else { throw ParleyError.invalidCursor() }
            after = (activity, String(parts[1]))
        }
        let rows = Page(fetched: try await store.memberships(for: user, afterActivity: after, limit: page.limit + 1, on: database.sql),
                        limit: page.limit, position: { "\($0.0.lastActivityAt.unixMilliseconds)|\($0.0.id)" })
        return Page(items: try await summaries(rows.items, for: user), nextCursor: rows.nextCursor)
    }

    func summaries(_ rows: [(Conversation, Member)], for user: UserID) async throws -> [ConversationSummary] {
        let ids = rows.map(\.0.id)
        let unread = try await store.unreadCounts(for: user, conversationIDs: ids, on: database.sql)
        let last = try await store.lastMessages(ids, on: database.sql)
        let members = try await store.memberCountsAndPeers(ids, besides: user, on: database.sql)
        var result: [ConversationSummary] = []
        for (conversation, member) in rows {
            var lastMessage = last[conversation.id]
            if let message = lastMessage, message.seq <= member.visibleAfterSeq { lastMessage = nil }
            result.append(ConversationSummary(
                conversation: conversation, membership: member, memberCount: members[conversation.id]?.count ?? 0,
                unreadCount: unread[conversation.id] ?? 0, lastMessage: lastMessage, peer: members[conversation.id]?.peer
            ))
        }
        return result
    }

    /// The active members of a conversation the actor can see.
    public func members(_ id: String, for actor: MessagingActor) async throws -> [Member] {
        _ = try await visibleConversation(id, for: actor)
        return try await store.activeMembers(id, on: database.sql)
    }

    /// The conversation and, for users, their active membership; throws `messaging.not_member` for anyone else.
    func visibleConversation(_ id: String, for actor: MessagingActor, on sql: (any SQLDatabase)? = nil) async throws -> (Conversation, Member?) {
        let sql = sql ?? database.sql
        guard let conversation = try await store.conversation(id, on: sql) else { throw ParleyError.conversationNotFound(id) }
        guard case .user(let user) = actor else { return (conversation, nil) }
        guard let (member, active) = try await store.member(id, user, on: sql), active else { throw ParleyError.notMember(id) }
        return (conversation, member)
    }

    /// Whether `error` is a unique-key violation. PostgresNIO's `description` is deliberately generic (it
    /// hides server details), so the SQLSTATE 23505 only shows in the reflected form.
    func isUniqueViolation(_ error: any Error) -> Bool {
        let text = (String(describing: error) + " " + String(reflecting: error)).lowercased()
        return text.contains("unique constraint") || text.contains("23505")
    }
}

/// A counter shared by the copies of a `MessagingService` (a struct).
final class OptimisticStores: Sendable {
    let changed = Atomic<Int>(0)
}

final class BatchFallbacks: Sendable {
    let count = Atomic<Int>(0)
}
