import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// The SQL of messaging: conversations, members, the per-conversation item log, reactions, read
/// positions and the per-user feed. One implementation for SQLite and PostgreSQL.
///
/// Methods taking `on sql:` run inside the caller's transaction; `MessagingService` owns the transactions
/// and the rules. Lock order on PostgreSQL, kept by every write path: the conversation row first (seq
/// allocation), then users' feed heads in user-id order. (The event log takes no lock: see `EventLog`.)
struct MessagingStore: Sendable {
    let database: Database
    let outbox: any EventOutbox
    let ids: any IDGenerator

    static let migrations = MigrationGroup(context: "messaging", migrations: [
        Migration(1, "create conversations, members, items, reactions, hidden items and feed") { _ in
            [
                """
                CREATE TABLE messaging_conversations (
                    id TEXT PRIMARY KEY,
                    type TEXT NOT NULL,
                    name TEXT NOT NULL,
                    avatar_url TEXT,
                    description TEXT NOT NULL,
                    direct_key TEXT UNIQUE,
                    created_by TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_seq BIGINT NOT NULL,
                    last_activity_at BIGINT NOT NULL,
                    dissolved_at BIGINT
                )
                """,
                """
                CREATE TABLE messaging_members (
                    conversation_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    role TEXT NOT NULL,
                    joined_at BIGINT NOT NULL,
                    visible_after_seq BIGINT NOT NULL,
                    read_seq BIGINT NOT NULL,
                    muted_until BIGINT,
                    notifications_muted BOOLEAN NOT NULL,
                    pinned BOOLEAN NOT NULL,
                    active BOOLEAN NOT NULL,
                    left_at BIGINT,
                    PRIMARY KEY (conversation_id, user_id)
                )
                """,
                "CREATE INDEX messaging_members_by_user ON messaging_members (user_id, active)",
                """
                CREATE TABLE messaging_items (
                    conversation_id TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    id TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL,
                    sender_id TEXT NOT NULL,
                    client_msg_id TEXT,
                    body TEXT NOT NULL,
                    reply_to TEXT,
                    mentions TEXT NOT NULL,
                    forwarded_from TEXT,
                    target_id TEXT,
                    created_at BIGINT NOT NULL,
                    edited_at BIGINT,
                    recalled_at BIGINT,
                    counts_unread BOOLEAN NOT NULL,
                    PRIMARY KEY (conversation_id, seq)
                )
                """,
                // A retried send (same conversation, sender and client_msg_id) finds the original here.
                "CREATE UNIQUE INDEX messaging_items_idempotency ON messaging_items (conversation_id, sender_id, client_msg_id)",
                """
                CREATE TABLE messaging_reactions (
                    message_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    emoji TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (message_id, user_id, emoji)
                )
                """,
                """
                CREATE TABLE messaging_hidden (
                    user_id TEXT NOT NULL,
                    conversation_id TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    PRIMARY KEY (user_id, conversation_id, seq)
                )
                """,
                "CREATE TABLE messaging_feed_heads (user_id TEXT PRIMARY KEY, head BIGINT NOT NULL)",
                """
                CREATE TABLE messaging_feed (
                    user_id TEXT NOT NULL,
                    user_seq BIGINT NOT NULL,
                    conversation_id TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    kind TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (user_id, user_seq)
                )
                """,
                "CREATE INDEX messaging_feed_by_item ON messaging_feed (conversation_id, seq)",
                "CREATE TABLE messaging_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            ]
        },
        Migration(2, "let groups allow members to invite") { _ in
            ["ALTER TABLE messaging_conversations ADD COLUMN members_can_invite BOOLEAN NOT NULL DEFAULT FALSE"]
        },
        Migration(3, "index the feed by time for retention") { _ in
            ["CREATE INDEX messaging_feed_by_time ON messaging_feed (created_at)"]
        },
    ])

    // MARK: Conversations

    func insertConversation(_ conversation: Conversation, directKey: String?, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO messaging_conversations (id, type, name, avatar_url, description, direct_key, created_by, created_at,
                last_seq, last_activity_at, members_can_invite)
            VALUES (\(bind: conversation.id), \(bind: conversation.type.rawValue), \(bind: conversation.name), \(bind: conversation.avatarURL),
                \(bind: conversation.description), \(bind: directKey), \(bind: conversation.createdBy),
                \(bind: conversation.createdAt.unixMilliseconds), 0, \(bind: conversation.createdAt.unixMilliseconds),
                \(bind: conversation.membersCanInvite))
            """).run()
    }

    func conversation(_ id: String, on sql: any SQLDatabase, lock: Bool = false) async throws -> Conversation? {
        let suffix = lock ? database.engine.forUpdate : ""
        return try await sql.raw("SELECT * FROM messaging_conversations WHERE id = \(bind: id)\(unsafeRaw: suffix)").first()
            .map(Self.decodeConversation)
    }

    /// What a send needs to know in one read: the conversation, the sender's membership row (nil when
    /// they have none, or for the platform), and for a direct conversation the other active member.
    /// With `lock`, the conversation row stays locked until the transaction ends (seq allocation).
    /// With `retriesOf`, it also tells whether the sender already stored an item under any of those client ids:
    /// a retry is rare, so the items themselves are read only when it says so, and a send costs one read less.
    /// With `blocks` (and without `lock`), it also tells whether the sender and the direct peer block each other.
    /// With `alsoReading`, it also returns that expression's value (a content policy's read, `ReviewReadsInSQL`).
    func sendTarget(_ id: String, sender: UserID?, lock: Bool, retriesOf clientMsgIDs: [String] = [],
                    blocks: (any BlockRelationsInSQL)? = nil, alsoReading reviewRead: BulkSQL? = nil,
                    on sql: any SQLDatabase) async throws -> SendTarget? {
        let suffix = lock ? database.engine.forUpdate(of: "c") : ""
        let senderID = sender?.rawValue ?? ""
        let retries: SQLQueryString = if clientMsgIDs.isEmpty {
            ""
        } else if probesEachClientMsgID(clientMsgIDs) {
            """
            , EXISTS (SELECT 1 FROM \(Self.storedUnder(clientMsgIDs, sender: senderID, in: BulkSQL("c.id"), selecting: "1"))) AS has_stored_retries
            """
        } else {
            """
            , EXISTS (
                SELECT 1 FROM messaging_items i WHERE i.conversation_id = c.id AND i.sender_id = \(bind: senderID)
                AND i.client_msg_id IN (\(SQLList(clientMsgIDs.map { SQLBind($0) })))
            ) AS has_stored_retries
            """
        }
        let select: SQLQueryString = """
            SELECT c.*, m.user_id, m.role, m.joined_at, m.visible_after_seq, m.read_seq, m.muted_until, m.notifications_muted,
                m.pinned, m.active, \(directPeer(besides: senderID))\(retries)\(reviewRead.map { SQLQueryString(", \($0) AS review_read") } ?? "")
            FROM messaging_conversations c
            LEFT JOIN messaging_members m ON m.conversation_id = c.id AND m.user_id = \(bind: senderID)
            WHERE c.id = \(bind: id)
            """
        // The peer is looked for only in a direct conversation, and blocks only when there is one (a join would
        // walk a group's members on every send). `t` is kept whole: merged into this query, the peer's subquery ran
        // once for each of the three mentions of t.peer_id and once for the column, on both engines.
        let blocks = lock ? nil : blocks
        let query: SQLQueryString = if let blocks {
            """
            SELECT t.*, CASE WHEN t.peer_id IS NULL THEN \(bind: false)
                ELSE \(blocks.eitherBlocksCondition(senderID, otherColumn: "t.peer_id")) END AS peer_blocked
            FROM (\(select)\(unsafeRaw: database.engine.keepSubquery)) AS t
            """
        } else {
            "\(select)\(unsafeRaw: suffix)"
        }
        guard let row = try await sql.raw(query).first() else { return nil }
        let membership = try row.decodeNil(column: "user_id")
            ? nil : (member: try Self.decodeMember(row), active: try row.decode(column: "active", as: Bool.self))
        return SendTarget(conversation: try Self.decodeConversation(row), membership: membership,
                          peer: try row.decodeOptional("peer_id", as: String.self).map(UserID.init(trusted:)),
                          hasStoredRetries: clientMsgIDs.isEmpty ? false : try row.decode(column: "has_stored_retries", as: Bool.self),
                          peerBlocked: blocks == nil ? nil : try row.decode(column: "peer_blocked", as: Bool.self),
                          reviewRead: reviewRead == nil ? nil : try row.decodeOptional("review_read", as: String.self))
    }

    /// Locks the conversation rows of `ids` in id order until the transaction ends (PostgreSQL; nothing to do on
    /// SQLite, whose one writer already excludes every other).
    func lockConversations(_ ids: Set<String>, on sql: any SQLDatabase) async throws {
        guard database.engine == .postgres, !ids.isEmpty else { return }
        var statement = BulkSQL("SELECT id FROM messaging_conversations WHERE id IN (")
        statement.list(ids.sorted())
        statement.append(") ORDER BY id FOR UPDATE")
        _ = try await sql.all(statement)
    }

    struct SendTarget {
        var conversation: Conversation
        var membership: (member: Member, active: Bool)?
        var peer: UserID?
        /// Whether the sender stored an item under one of the client ids asked about (`retriesOf`).
        var hasStoredRetries = false
        /// Whether the sender and `peer` block each other, when asked (`blocks`).
        var peerBlocked: Bool?
        /// The value of the content policy's read, when asked (`alsoReading`).
        var reviewRead: String?
    }

    func directConversationID(key: String, on sql: any SQLDatabase) async throws -> String? {
        try await sql.raw("SELECT id FROM messaging_conversations WHERE direct_key = \(bind: key)").first()?
            .decode(column: "id", as: String.self)
    }

    func updateConversationInfo(
        _ id: String, name: String, avatarURL: String?, description: String, membersCanInvite: Bool, on sql: any SQLDatabase
    ) async throws {
        try await sql.raw("""
            UPDATE messaging_conversations SET name = \(bind: name), avatar_url = \(bind: avatarURL), description = \(bind: description),
                members_can_invite = \(bind: membersCanInvite)
            WHERE id = \(bind: id)
            """).run()
    }

    func markDissolved(_ id: String, at now: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE messaging_conversations SET dissolved_at = \(bind: now.unixMilliseconds) WHERE id = \(bind: id)").run()
    }

    // MARK: Members

    func member(_ conversationID: String, _ user: UserID, on sql: any SQLDatabase) async throws -> (member: Member, active: Bool)? {
        guard let row = try await sql.raw("""
            SELECT * FROM messaging_members WHERE conversation_id = \(bind: conversationID) AND user_id = \(bind: user.rawValue)
            """).first() else { return nil }
        return (try Self.decodeMember(row), try row.decode(column: "active", as: Bool.self))
    }

    func activeMembers(_ conversationID: String, on sql: any SQLDatabase) async throws -> [Member] {
        try await sql.raw("""
            SELECT * FROM messaging_members WHERE conversation_id = \(bind: conversationID) AND active = \(bind: true) ORDER BY user_id
            """).all().map(Self.decodeMember)
    }

    /// The `peer_id` column of a conversation `c`: for a direct one, its active member other than `user` (there is one
    /// at most: a direct conversation's members are fixed), NULL otherwise.
    private func directPeer(besides user: String) -> SQLQueryString {
        """
        CASE WHEN c.type = \(bind: ConversationType.direct.rawValue) THEN (
            SELECT p.user_id FROM messaging_members p
            WHERE p.conversation_id = c.id AND p.active = \(bind: true) AND p.user_id <> \(bind: user) LIMIT 1
        ) END AS peer_id
        """
    }

    /// For each of `conversationIDs`: how many active members it has and, for a direct conversation, its active
    /// member other than `user`. One statement for a page of conversations, instead of every member of each.
    func memberCountsAndPeers(_ conversationIDs: [String], besides user: UserID,
                              on sql: any SQLDatabase) async throws -> [String: (count: Int, peer: UserID?)] {
        guard !conversationIDs.isEmpty else { return [:] }
        let rows = try await sql.raw("""
            SELECT c.id AS conversation_id,
                (SELECT COUNT(*) FROM messaging_members p WHERE p.conversation_id = c.id AND p.active = \(bind: true)) AS member_count,
                \(directPeer(besides: user.rawValue))
            FROM messaging_conversations c WHERE c.id IN (\(SQLList(conversationIDs.map { SQLBind($0) })))
            """).all()
        var result: [String: (count: Int, peer: UserID?)] = [:]
        for row in rows {
            result[try row.decode(column: "conversation_id", as: String.self)] = (
                try row.decode(column: "member_count", as: Int.self),
                try row.decodeOptional("peer_id", as: String.self).map(UserID.init(trusted:))
            )
        }
        return result
    }

    func activeMemberCount(_ conversationID: String, on sql: any SQLDatabase) async throws -> Int {
        try await sql.raw("""
            SELECT COUNT(*) AS n FROM messaging_members WHERE conversation_id = \(bind: conversationID) AND active = \(bind: true)
            """).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Adds (or re-adds) members; history up to `visibleAfterSeq` stays hidden from them, and it counts as read.
    func upsertMembers(
        _ conversationID: String, _ users: [(UserID, MemberRole)], visibleAfterSeq: Int64, at now: Date, on sql: any SQLDatabase
    ) async throws {
        for (user, role) in users {
            try await sql.raw("""
                INSERT INTO messaging_members (conversation_id, user_id, role, joined_at, visible_after_seq, read_seq,
                    notifications_muted, pinned, active)
                VALUES (\(bind: conversationID), \(bind: user.rawValue), \(bind: role.rawValue), \(bind: now.unixMilliseconds),
                    \(bind: visibleAfterSeq), \(bind: visibleAfterSeq), \(bind: false), \(bind: false), \(bind: true))
                ON CONFLICT (conversation_id, user_id) DO UPDATE SET role = excluded.role, joined_at = excluded.joined_at,
                    visible_after_seq = excluded.visible_after_seq, read_seq = excluded.read_seq, active = excluded.active,
                    left_at = NULL, muted_until = NULL
                """).run()
            try await sql.raw("""
                INSERT INTO messaging_feed_heads (user_id, head) VALUES (\(bind: user.rawValue), 0) ON CONFLICT (user_id) DO NOTHING
                """).run()
        }
    }

    func deactivateMember(_ conversationID: String, _ user: UserID, at now: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE messaging_members SET active = \(bind: false), left_at = \(bind: now.unixMilliseconds)
            WHERE conversation_id = \(bind: conversationID) AND user_id = \(bind: user.rawValue)
            """).run()
    }

    func setRole(_ conversationID: String, _ user: UserID, _ role: MemberRole, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE messaging_members SET role = \(bind: role.rawValue)
            WHERE conversation_id = \(bind: conversationID) AND user_id = \(bind: user.rawValue)
            """).run()
    }

    func setMutedUntil(_ conversationID: String, _ user: UserID, _ until: Date?, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE messaging_members SET muted_until = \(bind: until?.unixMilliseconds)
            WHERE conversation_id = \(bind: conversationID) AND user_id = \(bind: user.rawValue)
            """).run()
    }

    func setSettings(_ conversationID: String, _ user: UserID, muted: Bool, pinned: Bool, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE messaging_members SET notifications_muted = \(bind: muted), pinned = \(bind: pinned)
            WHERE conversation_id = \(bind: conversationID) AND user_id = \(bind: user.rawValue)
            """).run()
    }

    /// Moves the read position forward (never back); returns the position after the update.
    func advanceRead(_ conversationID: String, _ user: UserID, to seq: Int64, on sql: any SQLDatabase) async throws -> Int64 {
        let row = try await sql.all(Self.advanceReadStatement(conversationID, user, to: seq) + " RETURNING read_seq").first
        return try row?.decode(column: "read_seq", as: Int64.self) ?? 0
    }

    /// The UPDATE that moves `user`'s read position in a conversation forward to `seq` (never back).
    static func advanceReadStatement(_ conversationID: String, _ user: UserID, to seq: Int64) -> BulkSQL {
        var statement = BulkSQL("UPDATE messaging_members SET read_seq = CASE WHEN read_seq < ")
        statement.bind(seq)
        statement.append(" THEN ")
        statement.bind(seq)
        statement.append(" ELSE read_seq END WHERE conversation_id = ")
        statement.bind(conversationID)
        statement.append(" AND user_id = ")
        statement.bind(user.rawValue)
        return statement
    }

    // MARK: The item log

    /// Appends one item: allocates the next seq under the conversation's row lock, stores the item,
    /// records it in the feed of every active member (plus `alsoNotify`, e.g. a member just removed),
    /// and writes its event. Returns the stored item.
    func appendItem(
        conversationID: String, kind: ItemKind, senderID: String, clientMsgID: String? = nil, body: JSONValue,
        replyTo: String? = nil, mentions: [String] = [], forwardedFrom: String? = nil, targetID: String? = nil,
        alsoNotify: [UserID] = [], eventType: String, actor: String, at now: Date, on sql: any SQLDatabase
    ) async throws -> Item {
        let seqRow = try await sql.raw("""
            UPDATE messaging_conversations SET last_seq = last_seq + 1, last_activity_at = \(bind: now.unixMilliseconds)
            WHERE id = \(bind: conversationID) RETURNING last_seq
            """).first()
        guard let seq = try seqRow?.decode(column: "last_seq", as: Int64.self) else { throw ParleyError.conversationNotFound(conversationID) }
        let item = Item(
            conversationID: conversationID, seq: seq, id: ids.next(prefix: "m_"), kind: kind, senderID: senderID,
            clientMsgID: clientMsgID, body: body, replyTo: replyTo, mentions: mentions, forwardedFrom: forwardedFrom,
            targetID: targetID, createdAt: now, editedAt: nil, recalledAt: nil
        )
        try await sql.run(try itemsInsert([item]))
        try await appendFeed(
            recipients: .membersOf(conversationID, plus: alsoNotify), conversationID: conversationID, seqs: [seq], kind: "item", at: now, on: sql
        )
        try await outbox.append([event(for: item, type: eventType, actor: actor)], on: sql)
        return item
    }

    /// Appends messages of one sender as the next items of `conversation`, which the caller read under its row
    /// lock in this transaction (so `lastSeq + 1` onwards are free), with one statement per table whatever their
    /// number: the items, the conversation's counters, `reader`'s read position (the sender's: your own message is
    /// read by you), the members' feeds and the events; on PostgreSQL all in one statement. Returns the stored items.
    func appendMessages(
        _ drafts: [MessageDraft], to conversation: Conversation, senderID: String, actor: String, readBy reader: UserID?,
        at now: Date, on sql: any SQLDatabase
    ) async throws -> [ItemForFanOut] {
        guard !drafts.isEmpty else { return [] }
        // As it reads back from the database (milliseconds), so the fan-out's copy equals the stored one.
        let now = Date(unixMilliseconds: now.unixMilliseconds)
        let items = newItems(drafts, after: conversation, senderID: senderID, at: now)
        let events = items.map { messageCreated($0, actor: actor) }
        guard database.engine == .sqlite else {
            let rows = try await sql.all(try postgresAppend(items, to: conversation, readBy: reader, events: events, at: now, ifUnchanged: false))
            outbox.appended(events)
            return Self.forFanOut(items, heads: try rows.compactMap(Self.decodeHead))
        }
        let lastSeq = items[items.count - 1].seq
        try await sql.run(try itemsInsert(items))
        try await sql.run(Self.advanceStatement(conversation.id, to: lastSeq, at: now))
        if let reader { try await sql.run(Self.advanceReadStatement(conversation.id, reader, to: lastSeq)) }
        let heads = try await appendFeed(
            recipients: .membersOf(conversation.id, plus: []), conversationID: conversation.id, seqs: items.map(\.seq), kind: "item",
            at: now, on: sql
        )
        try await outbox.append(events, on: sql)
        return Self.forFanOut(items, heads: heads)
    }

    /// PostgreSQL, outside a transaction: `appendMessages` as one statement that writes only if the conversation's
    /// `last_seq` is still `conversation.lastSeq`, read before without a lock. Every change to a conversation's
    /// members, their roles and mutes, or its state appends an item, so an unchanged `last_seq` means that what the
    /// caller checked against `conversation` (and the sender's membership read with it) still holds, as it would
    /// under the lock. Returns nil, having written nothing, when it moved.
    func appendMessagesIfUnchanged(
        _ drafts: [MessageDraft], to conversation: Conversation, senderID: String, actor: String, readBy reader: UserID?,
        at now: Date, on sql: any SQLDatabase
    ) async throws -> [ItemForFanOut]? {
        guard !drafts.isEmpty, database.engine == .postgres else { return nil }
        let now = Date(unixMilliseconds: now.unixMilliseconds)
        let items = newItems(drafts, after: conversation, senderID: senderID, at: now)
        let events = items.map { messageCreated($0, actor: actor) }
        let rows = try await sql.all(try postgresAppend(items, to: conversation, readBy: reader, events: events, at: now, ifUnchanged: true))
        // A written append returns the events' row at least (see postgresAppend).
        guard !rows.isEmpty else { return nil }
        outbox.appended(events)
        return Self.forFanOut(items, heads: try rows.compactMap(Self.decodeHead))
    }

    /// The items of `drafts`, numbered after `conversation.lastSeq`.
    private func newItems(_ drafts: [MessageDraft], after conversation: Conversation, senderID: String, at now: Date) -> [Item] {
        drafts.enumerated().map { offset, draft in
            Item(
                conversationID: conversation.id, seq: conversation.lastSeq + 1 + Int64(offset), id: ids.next(prefix: "m_"), kind: draft.kind,
                senderID: senderID, clientMsgID: draft.clientMsgID, body: draft.body, replyTo: draft.replyTo, mentions: draft.mentions,
                forwardedFrom: draft.forwardedFrom, targetID: nil, createdAt: now, editedAt: nil, recalledAt: nil
            )
        }
    }

    /// Item k (0-based) of a run is at `head - count + 1 + k` in each recipient's feed (see appendFeed).
    private static func forFanOut(_ items: [Item], heads: [(user: UserID, head: Int64)]) -> [ItemForFanOut] {
        let count = Int64(items.count)
        return items.enumerated().map { offset, item in
            ItemForFanOut(item: item, recipients: heads.map { ($0.user, $0.head - count + 1 + Int64(offset)) })
        }
    }

    /// The UPDATE that gives a conversation its new `last_seq`.
    private static func advanceStatement(_ conversationID: String, to lastSeq: Int64, at now: Date) -> BulkSQL {
        var advance = BulkSQL("UPDATE messaging_conversations SET last_seq = ")
        advance.bind(lastSeq)
        advance.append(", last_activity_at = ")
        advance.bind(now.unixMilliseconds)
        advance.append(" WHERE id = ")
        advance.bind(conversationID)
        return advance
    }

    /// PostgreSQL: the items, the conversation's new seq, the read position, the feeds and the events in one statement
    /// (data-modifying CTEs). With `ifUnchanged`, the conversation's UPDATE also requires its `last_seq` to be the one
    /// the items were numbered after, and every other clause requires that UPDATE's row: the statement then takes the
    /// conversation's lock first, and writes nothing when it moved. It returns the moved feed heads (`user_id, head`)
    /// and one row without a user once the events are appended.
    private func postgresAppend(
        _ items: [Item], to conversation: Conversation, readBy reader: UserID?, events: [NewEvent], at now: Date, ifUnchanged: Bool
    ) throws -> BulkSQL {
        let lastSeq = items[items.count - 1].seq
        var statement = BulkSQL("WITH advanced AS (") + Self.advanceStatement(conversation.id, to: lastSeq, at: now)
        if ifUnchanged {
            statement.append(" AND last_seq = ")
            statement.bind(conversation.lastSeq)
        }
        statement.append(" RETURNING 1)")
        let condition = ifUnchanged ? "advanced" : nil
        let onlyIfAdvanced = ifUnchanged ? " AND EXISTS (SELECT 1 FROM advanced)" : ""
        if let reader {
            statement = statement + ", seen AS (" + Self.advanceReadStatement(conversation.id, reader, to: lastSeq) + onlyIfAdvanced + " RETURNING 1)"
        }
        statement = statement + ", stored AS (" + (try itemsInsert(items, onlyIf: condition)) + " RETURNING 1), "
        statement = statement + feedClauses(recipients: .membersOf(conversation.id, plus: []), conversationID: conversation.id,
                                            seqs: items.map(\.seq), kind: "item", at: now, onlyIf: condition)
        let appending = outbox.appendClauses(events, onlyIf: condition)
        statement = statement + ", " + appending.definitions
        statement.append(" SELECT user_id, head FROM h UNION ALL SELECT NULL, NULL FROM \(appending.notified)")
        return statement
    }

    /// The statement inserting item rows, all in one; with `onlyIf`, only when that clause yields a row.
    private func itemsInsert(_ items: [Item], onlyIf condition: String? = nil) throws -> BulkSQL {
        var statement = BulkSQL("""
            INSERT INTO messaging_items (conversation_id, seq, id, kind, sender_id, client_msg_id, body, reply_to, mentions,
                forwarded_from, target_id, created_at, counts_unread)
            """)
        // A SELECT from the VALUES list can carry the condition; its columns all take their binds' types, and a NULL
        // bind's (unknown) becomes text, which every nullable column here is.
        statement.append(condition == nil ? " VALUES" : " SELECT * FROM (VALUES")
        for (index, item) in items.enumerated() {
            statement.append(index > 0 ? ", " : " ")
            let mentionsText = try JSONValue.array(item.mentions.map { .string($0) }).jsonText()
            statement.row([
                item.conversationID, item.seq, item.id, item.kind.rawValue, item.senderID, item.clientMsgID, try item.body.jsonText(),
                item.replyTo, mentionsText, item.forwardedFrom, item.targetID, item.createdAt.unixMilliseconds, item.kind.countsUnread,
            ])
        }
        if let condition { statement.append(") AS v WHERE EXISTS (SELECT 1 FROM \(condition))") }
        return statement
    }

    /// The event that tells consumers (and the live fan-out) about an appended item.
    func event(for item: Item, type: String, actor: String) -> NewEvent {
        var payload: [String: JSONValue] = [
            "conversation_id": .string(item.conversationID), "seq": .int(Int(item.seq)), "item_id": .string(item.id),
            "kind": .string(item.kind.rawValue), "sender_id": .string(item.senderID), "fanout": "item",
            "reply_to": item.replyTo.map { .string($0) } ?? .null, "target_id": item.targetID.map { .string($0) } ?? .null,
            "mentions": .array(item.mentions.map { .string($0) }),
        ]
        if item.kind == .created, let type = item.body["type"] {
            // Consumers (analytics) learn each conversation's type from its creation event.
            payload["conversation_type"] = type
        }
        return NewEvent(type: type, actor: actor, subject: "conversation:\(item.conversationID)", payload: .object(payload), occurredAt: item.createdAt)
    }

    /// `event(for: item, type: "message.created", actor:)` with its payload written directly, byte for byte the same
    /// (keys in the writer's sorted order; a test compares them): one per message sent, where building and sorting the
    /// dictionary cost more than the insert.
    func messageCreated(_ item: Item, actor: String) -> NewEvent {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.appendLiteral(#"{"conversation_id":"#)
        out.appendJSON(item.conversationID)
        out.appendLiteral(#","fanout":"item","item_id":"#)
        out.appendJSON(item.id)
        out.appendLiteral(#","kind":"#)
        out.appendJSON(item.kind.rawValue)
        out.appendLiteral(#","mentions":"#)
        out.appendJSON(item.mentions)
        out.appendLiteral(#","reply_to":"#)
        out.appendJSON(item.replyTo)
        out.appendLiteral(#","sender_id":"#)
        out.appendJSON(item.senderID)
        out.appendLiteral(#","seq":"#)
        out.appendJSON(Int(item.seq))
        out.appendLiteral(#","target_id":"#)
        out.appendJSON(item.targetID)
        out.appendLiteral("}")
        return NewEvent(type: "message.created", actor: actor, subject: "conversation:\(item.conversationID)",
                        payloadText: String(decoding: out, as: UTF8.self), occurredAt: item.createdAt)
    }

    enum FeedRecipients {
        case membersOf(String, plus: [UserID])
        case users([UserID])
    }

    /// Gives each recipient the next position of their feed and records (conversation, seq, kind) there.
    /// Heads are locked in user-id order so concurrent writers never deadlock on them.
    func appendFeed(
        recipients: FeedRecipients, conversationID: String, seq: Int64, kind: String, at now: Date, on sql: any SQLDatabase
    ) async throws {
        try await appendFeed(recipients: recipients, conversationID: conversationID, seqs: [seq], kind: kind, at: now, on: sql)
    }

    /// `appendFeed` for several items of one conversation at once: each recipient's head moves by their number,
    /// and their feed gets one entry per item, in `seqs` order. Returns each recipient's head after the move.
    @discardableResult
    func appendFeed(
        recipients: FeedRecipients, conversationID: String, seqs: [Int64], kind: String, at now: Date, on sql: any SQLDatabase
    ) async throws -> [(user: UserID, head: Int64)] {
        guard !seqs.isEmpty else { return [] }
        if case .users(let users) = recipients, users.isEmpty { return [] }
        guard database.engine == .sqlite else {
            // PostgreSQL: one round trip.
            let statement = BulkSQL("WITH ") + feedClauses(recipients: recipients, conversationID: conversationID, seqs: seqs, kind: kind, at: now)
            return try await sql.all(statement + " SELECT user_id, head FROM h").compactMap(Self.decodeHead)
        }
        let filter = Self.feedRecipientFilter(recipients)
        var update = BulkSQL("UPDATE messaging_feed_heads SET head = head + ")
        update.bind(seqs.count)
        let heads = try await sql.all(update + " WHERE " + filter + " RETURNING user_id, head").compactMap(Self.decodeHead)
        try await sql.run(BulkSQL(Self.feedInsert) + feedEntries(conversationID: conversationID, seqs: seqs, kind: kind, at: now, heads: "messaging_feed_heads h")
            + " WHERE " + filter)
        return heads
    }

    /// PostgreSQL: `appendFeed` as two `WITH` clauses, `h` (the recipients' moved heads: `user_id, head`) and `fed`
    /// (the entries; `RETURNING 1`). The heads are locked in user-id order (the subquery's), moved, and the entries
    /// written from the moved heads. `recipients` must not be an empty list of users. With `onlyIf`, no head moves
    /// unless that clause yields a row.
    func feedClauses(
        recipients: FeedRecipients, conversationID: String, seqs: [Int64], kind: String, at now: Date, onlyIf condition: String? = nil
    ) -> BulkSQL {
        var statement = BulkSQL("h AS (UPDATE messaging_feed_heads SET head = head + ")
        statement.bind(seqs.count)
        statement.append(" FROM (SELECT user_id FROM messaging_feed_heads WHERE ")
        statement = statement + Self.feedRecipientFilter(recipients)
        if let condition { statement.append(" AND EXISTS (SELECT 1 FROM \(condition))") }
        statement.append(" ORDER BY user_id FOR UPDATE) AS locked WHERE messaging_feed_heads.user_id = locked.user_id")
        statement.append(" RETURNING messaging_feed_heads.user_id, messaging_feed_heads.head), fed AS (")
        statement = statement + Self.feedInsert + feedEntries(conversationID: conversationID, seqs: seqs, kind: kind, at: now, heads: "h")
        statement.append(" RETURNING 1)")
        return statement
    }

    private static let feedInsert = "INSERT INTO messaging_feed (user_id, user_seq, conversation_id, seq, kind, created_at) "

    /// Which heads move: a `WHERE` condition on `user_id`.
    private static func feedRecipientFilter(_ recipients: FeedRecipients) -> BulkSQL {
        var filter = BulkSQL()
        switch recipients {
        case .membersOf(let id, let extra):
            filter.append(extra.isEmpty ? "" : "(")
            filter.append("user_id IN (SELECT user_id FROM messaging_members WHERE conversation_id = ")
            filter.bind(id)
            filter.append(" AND active = ")
            filter.bind(true)
            filter.append(")")
            if !extra.isEmpty {
                filter.append(" OR user_id IN (")
                filter.list(extra.map(\.rawValue))
                filter.append("))")
            }
        case .users(let users):
            filter.append("user_id IN (")
            filter.list(users.map(\.rawValue))
            filter.append(")")
        }
        return filter
    }

    /// The feed entries of `seqs` for every head in `heads` (a table or clause with `user_id, head` aliased `h`, the
    /// heads already moved): entry k (1-based) of a recipient whose head just moved to H is at H - count + k.
    private func feedEntries(conversationID: String, seqs: [Int64], kind: String, at now: Date, heads: String) -> BulkSQL {
        var entries = BulkSQL("SELECT h.user_id, h.head - ")
        entries.bind(seqs.count)
        entries.append(" + e.k, ")
        entries.bind(conversationID)
        entries.append(", e.seq, ")
        entries.bind(kind)
        entries.append(", ")
        entries.bind(now.unixMilliseconds)
        entries.append(" FROM \(heads), (")
        for (offset, seq) in seqs.enumerated() {
            entries.append(offset > 0 ? " UNION ALL SELECT CAST(" : "SELECT CAST(")
            entries.bind(offset + 1)
            entries.append(" AS BIGINT) AS k, CAST(")
            entries.bind(seq)
            entries.append(" AS BIGINT) AS seq")
        }
        entries.append(") AS e")
        return entries
    }

    /// A row of `user_id, head`; nil for the row without a user that a statement appending events adds.
    private static func decodeHead(_ row: any SQLRow) throws -> (user: UserID, head: Int64)? {
        guard !(try row.decodeNil(column: "user_id")) else { return nil }
        return (user: UserID(trusted: try row.decode(column: "user_id", as: String.self)), head: try row.decode(column: "head", as: Int64.self))
    }

    func item(_ conversationID: String, seq: Int64, on sql: any SQLDatabase) async throws -> Item? {
        try await sql.raw("SELECT * FROM messaging_items WHERE conversation_id = \(bind: conversationID) AND seq = \(bind: seq)").first()
            .map(Self.decodeItem)
    }

    /// An item with its current reactions; one read when nobody has reacted to it (a new message, as a rule).
    func itemWithReactions(_ conversationID: String, seq: Int64, on sql: any SQLDatabase) async throws -> Item? {
        try await itemsWithReactions(conversationID, seqs: seq...seq, on: sql)[seq]
    }

    /// The items of a conversation with seqs in `seqs`, with their current reactions, by seq. Reactions are read
    /// only for items someone reacted to (new messages, as a rule, have none).
    func itemsWithReactions(_ conversationID: String, seqs: ClosedRange<Int64>, on sql: any SQLDatabase) async throws -> [Int64: Item] {
        let rows = try await sql.raw("""
            SELECT i.*, EXISTS (SELECT 1 FROM messaging_reactions r WHERE r.message_id = i.id) AS reacted
            FROM messaging_items i WHERE i.conversation_id = \(bind: conversationID)
            AND i.seq >= \(bind: seqs.lowerBound) AND i.seq <= \(bind: seqs.upperBound)
            """).all()
        var items: [Int64: Item] = [:]
        var reacted: [Item] = []
        for row in rows {
            let item = try Self.decodeItem(row)
            items[item.seq] = item
            if try row.decode(column: "reacted", as: Bool.self) { reacted.append(item) }
        }
        for item in try await withReactions(reacted, on: sql) { items[item.seq] = item }
        return items
    }

    /// `feedRecipients` for every item of a conversation with seqs in `seqs`, by seq.
    func feedRecipients(_ conversationID: String, seqs: ClosedRange<Int64>, kind: String, on sql: any SQLDatabase) async throws -> [Int64: [(UserID, Int64)]] {
        let rows = try await sql.raw("""
            SELECT user_id, user_seq, seq FROM messaging_feed WHERE conversation_id = \(bind: conversationID)
            AND seq >= \(bind: seqs.lowerBound) AND seq <= \(bind: seqs.upperBound) AND kind = \(bind: kind)
            """).all()
        var recipients: [Int64: [(UserID, Int64)]] = [:]
        for row in rows {
            recipients[try row.decode(column: "seq", as: Int64.self), default: []]
                .append((UserID(trusted: try row.decode(column: "user_id", as: String.self)), try row.decode(column: "user_seq", as: Int64.self)))
        }
        return recipients
    }

    func item(id: String, on sql: any SQLDatabase) async throws -> Item? {
        try await sql.raw("SELECT * FROM messaging_items WHERE id = \(bind: id)").first().map(Self.decodeItem)
    }

    /// Whether a lookup of several client ids should probe the idempotency index once per id (PostgreSQL).
    ///
    /// Asked as `client_msg_id IN (...)`, PostgreSQL may read every item the sender has in the conversation and
    /// compare each with the list, when its statistics (none yet on a new table, averages on a skewed one) promise
    /// few: a pipelined batch of 100 then cost milliseconds in a long conversation. One probe per id, through a
    /// `LATERAL` subquery the planner cannot flatten, costs the same whatever the history. SQLite already probes the
    /// index for each member of an `IN` list.
    private func probesEachClientMsgID(_ clientMsgIDs: [String]) -> Bool {
        database.engine == .postgres && clientMsgIDs.count > 1
    }

    /// A `FROM` list that probes the idempotency index once per client id: `k (client_msg_id)`, the ids, and laterally
    /// `i`, the `columns` of the item `sender` stored under `k`'s id in `conversation` (a column or a bind), if any.
    private static func storedUnder(_ clientMsgIDs: [String], sender: String, in conversation: BulkSQL, selecting columns: String) -> BulkSQL {
        var probe = BulkSQL("(VALUES ")
        for (index, clientMsgID) in clientMsgIDs.enumerated() {
            probe.append(index > 0 ? ", " : "")
            probe.row([clientMsgID])
        }
        probe.append(") AS k (client_msg_id), LATERAL (SELECT \(columns) FROM messaging_items s WHERE s.conversation_id = ")
        probe = probe + conversation
        probe.append(" AND s.sender_id = ")
        probe.bind(sender)
        probe.append(" AND s.client_msg_id = k.client_msg_id LIMIT 1) AS i")
        return probe
    }

    /// The items `sender` already stored in a conversation under any of `clientMsgIDs`, by client id.
    func itemsByClientMsgIDs(_ conversationID: String, sender: String, _ clientMsgIDs: [String], on sql: any SQLDatabase) async throws -> [String: Item] {
        var statement: BulkSQL
        if probesEachClientMsgID(clientMsgIDs) {
            var conversation = BulkSQL()
            conversation.bind(conversationID)
            statement = BulkSQL("SELECT i.* FROM ") + Self.storedUnder(clientMsgIDs, sender: sender, in: conversation, selecting: "*")
        } else {
            statement = BulkSQL("SELECT * FROM messaging_items WHERE conversation_id = ")
            statement.bind(conversationID)
            statement.append(" AND sender_id = ")
            statement.bind(sender)
            statement.append(" AND client_msg_id IN (")
            statement.list(clientMsgIDs)
            statement.append(")")
        }
        let rows = try await sql.all(statement)
        var items: [String: Item] = [:]
        for row in rows {
            let item = try Self.decodeItem(row)
            if let clientMsgID = item.clientMsgID { items[clientMsgID] = item }
        }
        return items
    }

    func updateBody(_ itemID: String, body: JSONValue, editedAt: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE messaging_items SET body = \(bind: try body.jsonText()), edited_at = \(bind: editedAt.unixMilliseconds) WHERE id = \(bind: itemID)
            """).run()
    }

    func markRecalled(_ itemID: String, at now: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            UPDATE messaging_items SET body = \(bind: "{}"), recalled_at = \(bind: now.unixMilliseconds), counts_unread = \(bind: false)
            WHERE id = \(bind: itemID)
            """).run()
    }

    /// Adds or removes one reaction; returns whether anything changed.
    func setReaction(_ messageID: String, user: UserID, emoji: String, present: Bool, at now: Date, on sql: any SQLDatabase) async throws -> Bool {
        if present {
            let rows = try await sql.raw("""
                INSERT INTO messaging_reactions (message_id, user_id, emoji, created_at)
                VALUES (\(bind: messageID), \(bind: user.rawValue), \(bind: emoji), \(bind: now.unixMilliseconds))
                ON CONFLICT (message_id, user_id, emoji) DO NOTHING RETURNING message_id
                """).all()
            return !rows.isEmpty
        }
        let rows = try await sql.raw("""
            DELETE FROM messaging_reactions WHERE message_id = \(bind: messageID) AND user_id = \(bind: user.rawValue)
            AND emoji = \(bind: emoji) RETURNING message_id
            """).all()
        return !rows.isEmpty
    }

    func hide(_ conversationID: String, seq: Int64, for user: UserID, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO messaging_hidden (user_id, conversation_id, seq) VALUES (\(bind: user.rawValue), \(bind: conversationID), \(bind: seq))
            ON CONFLICT (user_id, conversation_id, seq) DO NOTHING
            """).run()
    }

    /// Items visible to `user` in a seq window, in ascending seq order, with their current reactions.
    func items(
        _ conversationID: String, for user: UserID, after: Int64, before: Int64?, limit: Int, newestFirst: Bool, on sql: any SQLDatabase
    ) async throws -> [Item] {
        let upper: SQLQueryString = before.map { "AND i.seq < \(bind: $0)" } ?? ""
        let order = newestFirst ? "DESC" : "ASC"
        let rows = try await sql.raw("""
            SELECT i.* FROM messaging_items i
            WHERE i.conversation_id = \(bind: conversationID) AND i.seq > \(bind: after) \(upper)
            AND NOT EXISTS (SELECT 1 FROM messaging_hidden h WHERE h.user_id = \(bind: user.rawValue)
                AND h.conversation_id = i.conversation_id AND h.seq = i.seq)
            ORDER BY i.seq \(unsafeRaw: order) LIMIT \(bind: limit)
            """).all()
        var items = try rows.map(Self.decodeItem)
        if newestFirst { items.reverse() }
        return try await withReactions(items, on: sql)
    }

    func withReactions(_ items: [Item], on sql: any SQLDatabase) async throws -> [Item] {
        let messageIDs = items.filter { $0.kind.isMessage }.map(\.id)
        guard !messageIDs.isEmpty else { return items }
        let rows = try await sql.raw("""
            SELECT message_id, user_id, emoji FROM messaging_reactions WHERE message_id IN (\(SQLList(messageIDs.map { SQLBind($0) })))
            ORDER BY created_at, user_id
            """).all()
        var byMessage: [String: [String: [String]]] = [:]
        for row in rows {
            let message = try row.decode(column: "message_id", as: String.self)
            byMessage[message, default: [:]][try row.decode(column: "emoji", as: String.self), default: []]
                .append(try row.decode(column: "user_id", as: String.self))
        }
        return items.map { item in
            var item = item
            item.reactions = byMessage[item.id] ?? [:]
            return item
        }
    }

    // MARK: Reads, unread counts and the feed

    /// Unread messages per conversation for `user`: messages after their read position, not their own,
    /// not recalled. Derived from the log every time, so it cannot drift.
    func unreadCounts(for user: UserID, conversationIDs: [String]? = nil, on sql: any SQLDatabase) async throws -> [String: Int] {
        let restriction: SQLQueryString = conversationIDs.map { ids in
            ids.isEmpty ? "AND 1 = 0" : "AND m.conversation_id IN (\(SQLList(ids.map { SQLBind($0) })))"
        } ?? ""
        let rows = try await sql.raw("""
            SELECT m.conversation_id AS conversation_id, \(unreadOfMembership(user)) AS unread
            FROM messaging_members m
            WHERE m.user_id = \(bind: user.rawValue) AND m.active = \(bind: true) \(restriction)
            """).all()
        var counts: [String: Int] = [:]
        for row in rows {
            counts[try row.decode(column: "conversation_id", as: String.self)] = try row.decode(column: "unread", as: Int.self)
        }
        return counts
    }

    /// The unread messages of membership `m` (of `user`): counted from its read position on, one membership at a time,
    /// so the work is the unread messages whatever the conversation's history. (Joined with every membership instead,
    /// PostgreSQL without fresh statistics walked whole conversations and filtered on the read position.)
    private func unreadOfMembership(_ user: UserID) -> SQLQueryString {
        """
        (SELECT COUNT(*) FROM messaging_items i WHERE i.conversation_id = m.conversation_id AND i.seq > m.read_seq
            AND i.counts_unread = \(bind: true) AND i.sender_id <> \(bind: user.rawValue))
        """
    }

    /// The badge: unread messages across conversations the user has not muted.
    func badge(for user: UserID, on sql: any SQLDatabase) async throws -> Int {
        let row = try await sql.raw("""
            SELECT CAST(COALESCE(SUM(t.unread), 0) AS BIGINT) AS unread FROM (
                SELECT \(unreadOfMembership(user)) AS unread FROM messaging_members m
                WHERE m.user_id = \(bind: user.rawValue) AND m.active = \(bind: true) AND m.notifications_muted = \(bind: false)
            ) AS t
            """).first()
        return try row?.decode(column: "unread", as: Int.self) ?? 0
    }

    struct FeedEntry: Sendable, Equatable {
        var userSeq: Int64
        var conversationID: String
        var seq: Int64
        var kind: String
    }

    func feedHead(for user: UserID, on sql: any SQLDatabase) async throws -> Int64 {
        try await sql.raw("SELECT head FROM messaging_feed_heads WHERE user_id = \(bind: user.rawValue)").first()?
            .decode(column: "head", as: Int64.self) ?? 0
    }

    func feed(for user: UserID, after userSeq: Int64, limit: Int, on sql: any SQLDatabase) async throws -> [FeedEntry] {
        try await sql.raw("""
            SELECT user_seq, conversation_id, seq, kind FROM messaging_feed
            WHERE user_id = \(bind: user.rawValue) AND user_seq > \(bind: userSeq) ORDER BY user_seq LIMIT \(bind: limit)
            """).all().map { row in
            FeedEntry(
                userSeq: try row.decode(column: "user_seq", as: Int64.self),
                conversationID: try row.decode(column: "conversation_id", as: String.self),
                seq: try row.decode(column: "seq", as: Int64.self),
                kind: try row.decode(column: "kind", as: String.self)
            )
        }
    }

    /// Deletes feed entries created before `cutoff`, at most `batch` at a time; returns how many went.
    func pruneFeed(before cutoff: Date, batch: Int) async throws -> Int {
        try await database.transaction { sql in
            try await sql.raw("""
                DELETE FROM messaging_feed WHERE (user_id, user_seq) IN (
                    SELECT user_id, user_seq FROM messaging_feed WHERE created_at < \(bind: cutoff.unixMilliseconds) LIMIT \(bind: batch)
                ) RETURNING user_seq
                """).all().count
        }
    }

    /// Who gets an item in their feed, with the feed position it has there: the fan-out list.
    func feedRecipients(_ conversationID: String, seq: Int64, kind: String, on sql: any SQLDatabase) async throws -> [(UserID, Int64)] {
        try await feedRecipients(conversationID, seqs: seq...seq, kind: kind, on: sql)[seq] ?? []
    }

    /// The feed's epoch: created once; a new epoch tells clients their resume tokens mean nothing any more.
    func epoch() async throws -> String {
        if let row = try await database.sql.raw("SELECT value FROM messaging_meta WHERE key = 'epoch'").first() {
            return try row.decode(column: "value", as: String.self)
        }
        let fresh = ids.next(prefix: "e")
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO messaging_meta (key, value) VALUES ('epoch', \(bind: fresh)) ON CONFLICT (key) DO NOTHING
                """).run()
        }
        return try await database.sql.raw("SELECT value FROM messaging_meta WHERE key = 'epoch'").first()?
            .decode(column: "value", as: String.self) ?? fresh
    }

    /// The user's memberships with their conversations, most recently active first, pinned ones on top.
    func memberships(
        for user: UserID, afterActivity: (Int64, String)?, limit: Int, on sql: any SQLDatabase
    ) async throws -> [(Conversation, Member)] {
        let position: SQLQueryString = afterActivity.map { activity, id in
            "AND (c.last_activity_at < \(bind: activity) OR (c.last_activity_at = \(bind: activity) AND c.id > \(bind: id)))"
        } ?? ""
        let rows = try await sql.raw("""
            SELECT c.*, m.user_id, m.role, m.joined_at, m.visible_after_seq, m.read_seq, m.muted_until, m.notifications_muted, m.pinned
            FROM messaging_members m JOIN messaging_conversations c ON c.id = m.conversation_id
            WHERE m.user_id = \(bind: user.rawValue) AND m.active = \(bind: true) \(position)
            ORDER BY c.last_activity_at DESC, c.id ASC LIMIT \(bind: limit)
            """).all()
        return try rows.map { (try Self.decodeConversation($0), try Self.decodeMember($0)) }
    }

    /// The newest message (not mutation) of each conversation, as of now.
    ///
    /// One item per conversation, found by walking its items backwards from the newest and stopping at the first
    /// message: the work does not grow with the conversation's history. (Comparing every item of the conversation
    /// with its newest message's seq did, on PostgreSQL.) There a `LATERAL` subquery, which its planner cannot turn
    /// into a hash join over the whole conversation when its statistics are stale; SQLite has no `LATERAL`, and walks
    /// back for the seq, then fetches the item by primary key.
    func lastMessages(_ conversationIDs: [String], on sql: any SQLDatabase) async throws -> [String: Item] {
        guard !conversationIDs.isEmpty else { return [:] }
        let messageKinds = SQLList(ItemKind.allCases.filter(\.isMessage).map { SQLBind($0.rawValue) })
        let conversations = SQLList(conversationIDs.map { SQLBind($0) })
        let rows = try await sql.raw(database.engine == .postgres ? """
            SELECT i.* FROM messaging_conversations c, LATERAL (
                SELECT * FROM messaging_items j WHERE j.conversation_id = c.id AND j.kind IN (\(messageKinds)) ORDER BY j.seq DESC LIMIT 1
            ) AS i
            WHERE c.id IN (\(conversations))
            """ : """
            SELECT i.* FROM messaging_conversations c
            JOIN messaging_items i ON i.conversation_id = c.id AND i.seq = (
                SELECT j.seq FROM messaging_items j WHERE j.conversation_id = c.id AND j.kind IN (\(messageKinds))
                ORDER BY j.seq DESC LIMIT 1
            )
            WHERE c.id IN (\(conversations))
            """).all()
        var result: [String: Item] = [:]
        for row in rows {
            let item = try Self.decodeItem(row)
            result[item.conversationID] = item
        }
        return result
    }

    /// Read positions of the active members of a conversation.
    func readPositions(_ conversationID: String, on sql: any SQLDatabase) async throws -> [(UserID, Int64)] {
        try await sql.raw("""
            SELECT user_id, read_seq FROM messaging_members WHERE conversation_id = \(bind: conversationID) AND active = \(bind: true)
            ORDER BY user_id
            """).all().map { (UserID(trusted: try $0.decode(column: "user_id", as: String.self)), try $0.decode(column: "read_seq", as: Int64.self)) }
    }

    // MARK: Decoding

    static func decodeConversation(_ row: any SQLRow) throws -> Conversation {
        Conversation(
            id: try row.decode(column: "id", as: String.self),
            type: ConversationType(rawValue: try row.decode(column: "type", as: String.self)) ?? .group,
            name: try row.decode(column: "name", as: String.self),
            avatarURL: try row.decodeOptional("avatar_url", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            lastSeq: try row.decode(column: "last_seq", as: Int64.self),
            lastActivityAt: try row.decodeDate("last_activity_at"),
            dissolvedAt: try row.decodeOptionalDate("dissolved_at"),
            membersCanInvite: try row.decode(column: "members_can_invite", as: Bool.self)
        )
    }

    static func decodeMember(_ row: any SQLRow) throws -> Member {
        Member(
            userID: UserID(trusted: try row.decode(column: "user_id", as: String.self)),
            role: MemberRole(rawValue: try row.decode(column: "role", as: String.self)) ?? .member,
            joinedAt: try row.decodeDate("joined_at"),
            visibleAfterSeq: try row.decode(column: "visible_after_seq", as: Int64.self),
            readSeq: try row.decode(column: "read_seq", as: Int64.self),
            mutedUntil: try row.decodeOptionalDate("muted_until"),
            notificationsMuted: try row.decode(column: "notifications_muted", as: Bool.self),
            pinned: try row.decode(column: "pinned", as: Bool.self)
        )
    }

    static func decodeItem(_ row: any SQLRow) throws -> Item {
        let mentions = try row.decodeJSON("mentions")
        var mentionList: [String] = []
        if case .array(let values) = mentions { mentionList = values.compactMap(\.stringValue) }
        return Item(
            conversationID: try row.decode(column: "conversation_id", as: String.self),
            seq: try row.decode(column: "seq", as: Int64.self),
            id: try row.decode(column: "id", as: String.self),
            kind: ItemKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .custom,
            senderID: try row.decode(column: "sender_id", as: String.self),
            clientMsgID: try row.decodeOptional("client_msg_id", as: String.self),
            body: try row.decodeJSON("body"),
            replyTo: try row.decodeOptional("reply_to", as: String.self),
            mentions: mentionList,
            forwardedFrom: try row.decodeOptional("forwarded_from", as: String.self),
            targetID: try row.decodeOptional("target_id", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            editedAt: try row.decodeOptionalDate("edited_at"),
            recalledAt: try row.decodeOptionalDate("recalled_at")
        )
    }
}
