import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

extension MessagingService {
    /// Stores a message and returns its receipt. A retry with the same `client_msg_id` from the same
    /// sender returns the original receipt (`duplicate: true`) and stores nothing.
    public func send(_ draft: MessageDraft, by actor: MessagingActor) async throws -> SendReceipt {
        switch try await prepare(draft, by: actor) {
        case .answered(let receipt): return receipt
        case .ready(let draft, let target): return try await store(draft, by: actor, unchangedSince: target)
        }
    }

    /// Sends several messages of one actor, in order, storing those that pass their checks in one
    /// transaction: each outcome is exactly what `send` would have given for that draft alone (each is
    /// checked before anything of it is written, so one refused draft changes nothing for the others), and the
    /// ordering of their `seq`s is the order of `drafts`. The gateway uses it for a connection's pipelined
    /// sends: one commit (and one write of the pages they share) instead of one per message.
    public func sendAll(_ drafts: [MessageDraft], by actor: MessagingActor) async -> [Result<SendReceipt, any Error>] {
        var outcomes = [Result<SendReceipt, any Error>?](repeating: nil, count: drafts.count)
        var ready: [(index: Int, draft: MessageDraft, target: MessagingStore.SendTarget?)] = []
        for run in Self.runs(of: drafts) {
            for (index, prepared) in zip(run, await prepareRun(Array(drafts[run]), by: actor)) {
                switch prepared {
                case .success(.answered(let receipt)): outcomes[index] = .success(receipt)
                case .success(.ready(let draft, let target)): ready.append((index, draft, target))
                case .failure(let error): outcomes[index] = .failure(error)
                }
            }
        }
        if !ready.isEmpty {
            do {
                // The first draft's read of its conversation; `storeReady` uses it only when every draft is to that one.
                let stored = try await storeReady(ready.map(\.draft), by: actor, unchangedSince: ready[0].target)
                for (entry, outcome) in zip(ready, stored) { outcomes[entry.index] = outcome }
            } catch {
                // The transaction itself failed (the database, not a draft): each draft then gets its own outcome.
                batchFallbacks.count.add(1, ordering: .relaxed)
                for entry in ready { outcomes[entry.index] = await Self.outcome { try await store(entry.draft, by: actor) } }
            }
        }
        return outcomes.map { $0 ?? .failure(ParleyError.internalError) }
    }

    /// What is left to do for a draft once its checks outside the transaction are done.
    enum PreparedSend {
        /// A retry of a stored send: its original receipt.
        case answered(SendReceipt)
        /// Checked and reviewed: store it. A member's draft comes with the conversation and membership it was checked
        /// against.
        case ready(MessageDraft, MessagingStore.SendTarget?)
    }

    /// The checks of a send that run before its transaction: a retry's original receipt, membership, blocks,
    /// and the content policy.
    func prepare(_ draft: MessageDraft, by actor: MessagingActor) async throws -> PreparedSend {
        guard let prepared = await prepareRun([draft], by: actor).first else {
            throw ParleyError.internalError
        }
        return try prepared.get()
    }

    /// `prepare` for drafts of one actor to one conversation, in order: what they share (the sender's stored
    /// client ids, the conversation with their membership, blocks with a direct peer) is read once for the run,
    /// and each draft gets exactly the outcome `prepare` would have given it alone.
    func prepareRun(_ drafts: [MessageDraft], by actor: MessagingActor) async -> [Result<PreparedSend, any Error>] {
        guard let conversationID = drafts.first?.conversationID else { return [] }
        // The content policy may share lookups (the sender's sanctions) across the run's drafts. On PostgreSQL they
        // are asked in the same statement as the conversation when the policy can say them in SQL, or else begun
        // beside it: no round trip of their own to wait for. (On SQLite a read is a few microseconds on this thread;
        // a second reader connection for it costs more than it saves.)
        var prefetch = false
        if case .user = actor, database.engine == .postgres { prefetch = true }
        let review = drafts.count > 1 || prefetch ? ContentReviewRun() : nil
        return await ContentReviewRun.$current.withValue(review) {
            let context: [String: JSONValue] = ["conversation_id": .string(conversationID)]
            let reviewRead = prefetch ? reviewReads?.reviewRead(actor: actor.label, context: context) : nil
            if prefetch, reviewRead == nil { policy.prefetch(actor: actor.label, context: context) }
            let (target, originals) = await sharedReads(drafts, of: conversationID, by: actor, alsoReading: reviewRead?.expression)
            if let reviewRead {
                if case .success(let found?)? = target { reviewRead.accept(found.reviewRead) }
                // Whatever else the chain's policies read ahead (what the read above answered is known to the run now,
                // so it is not read again; and if the read failed, the sanctions are read as before).
                policy.prefetch(actor: actor.label, context: context)
            }
            return await prepareEach(drafts, of: conversationID, by: actor, target: target, originals: originals)
        }
    }

    /// What a run's checks read once: the conversation as its sender sees it, and the sender's stored items under the
    /// run's client ids.
    private func sharedReads(_ drafts: [MessageDraft], of conversationID: String, by actor: MessagingActor, alsoReading reviewRead: BulkSQL?) async
        -> (Result<MessagingStore.SendTarget?, any Error>?, Result<[String: Item], any Error>) {
        let clientMsgIDs = drafts.compactMap(\.clientMsgID)
        guard case .user(let user) = actor else {
            let originals: Result<[String: Item], any Error> = clientMsgIDs.isEmpty ? .success([:]) : await Self.outcome {
                try await store.itemsByClientMsgIDs(conversationID, sender: actor.senderID, clientMsgIDs, on: database.sql)
            }
            return (nil, originals)
        }
        // A member's send reads its conversation, membership, blocks with a direct peer and whether any of its
        // client ids is already stored in one statement; the stored items themselves only for a retry.
        // (Conversations are never deleted: no conversation, no stored items.)
        let target = await Self.outcome {
            try await store.sendTarget(conversationID, sender: user, lock: false, retriesOf: clientMsgIDs,
                                       blocks: blocks as? any BlockRelationsInSQL, alsoReading: reviewRead, on: database.sql)
        }
        switch target {
        case .success(let found?) where found.hasStoredRetries:
            return (target, await Self.outcome {
                try await store.itemsByClientMsgIDs(conversationID, sender: actor.senderID, clientMsgIDs, on: database.sql)
            })
        case .success: return (target, .success([:]))
        case .failure(let error): return (target, .failure(error))
        }
    }

    private func prepareEach(_ drafts: [MessageDraft], of conversationID: String, by actor: MessagingActor,
                             target: Result<MessagingStore.SendTarget?, any Error>?,
                             originals: Result<[String: Item], any Error>) async -> [Result<PreparedSend, any Error>] {
        var shared: Result<SharedSendChecks, any Error>?
        var results: [Result<PreparedSend, any Error>] = []
        for draft in drafts {
            results.append(await Self.outcome {
                if draft.kind == .system, case .user = actor {
                    throw ParleyError.invalidField("kind", "only the platform sends system messages")
                }
                // A retry of a stored send is answered without asking the content policy again.
                if let clientMsgID = draft.clientMsgID, let original = try originals.get()[clientMsgID] {
                    return .answered(SendReceipt(for: original, duplicate: true))
                }
                guard case .user(let user) = actor, let target else { return .ready(draft, nil) }
                if shared == nil {
                    shared = await Self.outcome { try await sharedSendChecks(try target.get(), conversationID, sender: user) }
                }
                guard let checks = try shared?.get() else { throw ParleyError.conversationNotFound(conversationID) }
                return .ready(try await reviewed(draft, by: user, in: checks), try target.get())
            })
        }
        return results
    }

    /// What the pre-transaction checks of every draft of a run share.
    struct SharedSendChecks {
        var conversation: Conversation
        /// The other member of a direct conversation (neither blocks the other).
        var peer: UserID?
    }

    /// Membership is checked before the policy runs, so a non-member learns nothing from it; the transaction
    /// checks again, as the membership may change in between. In a direct conversation, a block either way refuses.
    func sharedSendChecks(_ target: MessagingStore.SendTarget?, _ conversationID: String,
                          sender user: UserID) async throws -> SharedSendChecks {
        guard let target else { throw ParleyError.conversationNotFound(conversationID) }
        guard target.membership?.active == true else { throw ParleyError.notMember(conversationID) }
        guard target.conversation.type == .direct, let peer = target.peer else { return SharedSendChecks(conversation: target.conversation) }
        let blocked: Bool
        if let known = target.peerBlocked { blocked = known } else { blocked = try await blocks.eitherBlocks(user, peer) }
        if blocked { throw ParleyError.blocked }
        return SharedSendChecks(conversation: target.conversation, peer: peer)
    }

    /// A member's draft after the content policy (and without mentions of people who blocked the sender).
    func reviewed(_ draft: MessageDraft, by user: UserID, in checks: SharedSendChecks) async throws -> MessageDraft {
        var draft = draft
        var context: [String: JSONValue] = [
            "conversation_id": .string(draft.conversationID), "conversation_type": .string(checks.conversation.type.rawValue),
            "client_msg_id": draft.clientMsgID.map { .string($0) } ?? .null, "reply_to": draft.replyTo.map { .string($0) } ?? .null,
            "forwarded_from": draft.forwardedFrom.map { .string($0) } ?? .null,
        ]
        if let peer = checks.peer { context["peer"] = .string(peer.rawValue) }
        // Someone who blocked the sender is not mentioned by them.
        let mentioned = draft.mentions.filter { $0 != "@all" }.map { UserID(trusted: $0) }
        if !mentioned.isEmpty {
            let blockers = try await blocks.blockers(of: user, among: mentioned)
            draft.mentions.removeAll { blockers.contains(UserID(trusted: $0)) }
        }
        context["mentions"] = .array(draft.mentions.map { .string($0) })
        draft.body = try await reviewed(draft.body, kind: "message", messageKind: draft.kind, actor: .user(user), context: context)
        return draft
    }

    /// The index ranges of consecutive drafts to the same conversation.
    static func runs(of drafts: [MessageDraft]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        while start < drafts.count {
            var end = start + 1
            while end < drafts.count, drafts[end].conversationID == drafts[start].conversationID { end += 1 }
            runs.append(start..<end)
            start = end
        }
        return runs
    }

    static func outcome<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// The storing half of a send (see `storeReady`).
    func store(_ draft: MessageDraft, by actor: MessagingActor, unchangedSince target: MessagingStore.SendTarget? = nil) async throws -> SendReceipt {
        guard let outcome = try await storeReady([draft], by: actor, unchangedSince: target).first else { throw ParleyError.internalError }
        return try outcome.get()
    }

    /// Stores drafts that passed `prepare`, in order, in one transaction that checks the rules again under the lock
    /// of each conversation, and returns one outcome per draft (see `storeRun`).
    ///
    /// On PostgreSQL, a member's drafts to one conversation that `prepare` read as `target` are first stored without
    /// a transaction of their own, in one statement that writes only if the conversation has not changed since (see
    /// `MessagingStore.appendMessagesIfUnchanged`): one round trip instead of four (BEGIN, the locked read, the
    /// writes, COMMIT). When it has changed (another message, a membership change), or a retry raced its original
    /// past `prepare`, they are stored the locked way.
    func storeReady(_ drafts: [MessageDraft], by actor: MessagingActor,
                    unchangedSince target: MessagingStore.SendTarget?) async throws -> [Result<SendReceipt, any Error>] {
        var lookUpRetries = false
        if let target, case .user(let user) = actor, database.engine == .postgres, Self.runs(of: drafts).count == 1 {
            do {
                if let stored = try await storeUnlessChanged(drafts, by: user, since: target) { return stored }
                optimisticStores.changed.add(1, ordering: .relaxed)
            } catch where isUniqueViolation(error) {
                lookUpRetries = true
            }
        }
        let locked = { (lookUpRetries: Bool) in
            try await self.database.transaction { sql in
                var stored: [Result<SendReceipt, any Error>] = []
                let runs = Self.runs(of: drafts)
                if runs.count > 1 {
                    // Each run locks its conversation; two batches taking the same conversations in other orders
                    // would deadlock (PostgreSQL; SQLite has one writer). All of them first, in id order.
                    try await self.store.lockConversations(Set(drafts.map(\.conversationID)), on: sql)
                }
                // Consecutive drafts to one conversation are stored together (multi-row statements).
                for run in runs {
                    stored += try await self.storeRun(Array(drafts[run]), by: actor, lookUpRetries: lookUpRetries, on: sql)
                }
                return stored
            }
        }
        return lookUpRetries ? try await locked(true) : try await retryingRaces(locked)
    }

    /// `storeRun` without a transaction or a lock, against the conversation as `prepare` read it (PostgreSQL): nil,
    /// having written nothing, when the conversation changed since or when no draft is left to write (a refusal is
    /// then decided under the lock).
    func storeUnlessChanged(_ drafts: [MessageDraft], by user: UserID,
                            since target: MessagingStore.SendTarget) async throws -> [Result<SendReceipt, any Error>]? {
        let now = clock.now()
        let sql = database.sql
        return try await storeChecked(drafts, in: target, by: .user(user), originals: [:], at: now, on: sql) { fresh in
            guard !fresh.isEmpty else { return nil }
            return try await self.store.appendMessagesIfUnchanged(
                fresh, to: target.conversation, senderID: user.rawValue, actor: MessagingActor.user(user).label, readBy: user, at: now, on: sql
            )
        }
    }

    /// Runs a store without looking up stored retries inside its transaction (`prepare` already did, and the
    /// idempotency index refuses a retry that raced its original past it), and once more with the lookup when
    /// the index refused: the lookup then finds the original. It costs a statement per transaction (a round trip on
    /// PostgreSQL) that only such a race needs.
    func retryingRaces<T>(_ store: (_ lookUpRetries: Bool) async throws -> T) async throws -> T {
        do {
            return try await store(false)
        } catch where isUniqueViolation(error) {
            return try await store(true)
        }
    }

    /// Stores drafts of one actor to one conversation, in order, inside the caller's transaction, and returns
    /// one outcome per draft. The rules are checked under the conversation's row lock, draft by draft, before
    /// anything is written (a refused draft leaves nothing, and the others go on); the accepted ones are then
    /// appended together with multi-row statements. A draft whose `client_msg_id` appears earlier in the run, or
    /// (with `lookUpRetries`) is already stored, gets the original's receipt; without the lookup, a stored one (a
    /// retry that raced its original past `prepare`) makes the insert fail with a unique violation.
    /// Throws only when the database fails, and then nothing of the run may be kept.
    func storeRun(_ drafts: [MessageDraft], by actor: MessagingActor, lookUpRetries: Bool,
                  on sql: any SQLDatabase) async throws -> [Result<SendReceipt, any Error>] {
        guard let conversationID = drafts.first?.conversationID else { return [] }
        let now = clock.now()
        var sender: UserID?
        if case .user(let user) = actor { sender = user }
        // The conversation row is locked first (seq allocation), with the sender's membership read alongside.
        guard let target = try await store.sendTarget(conversationID, sender: sender, lock: true, on: sql) else {
            return drafts.map { _ in .failure(ParleyError.conversationNotFound(conversationID)) }
        }
        let clientMsgIDs = drafts.compactMap(\.clientMsgID)
        let originals = clientMsgIDs.isEmpty || !lookUpRetries ? [:]
            : try await store.itemsByClientMsgIDs(conversationID, sender: actor.senderID, clientMsgIDs, on: sql)
        let stored = try await storeChecked(drafts, in: target, by: actor, originals: originals, at: now, on: sql) { fresh in
            try await self.store.appendMessages(
                fresh, to: target.conversation, senderID: actor.senderID, actor: actor.label, readBy: sender, at: now, on: sql
            )
        }
        return stored ?? drafts.map { _ in .failure(ParleyError.internalError) }
    }

    /// The rules of a run checked draft by draft against `target`, then the accepted drafts appended by `append`
    /// (nil from it: nothing was written, and nil is returned). A draft whose `client_msg_id` is among `originals` (the
    /// sender's stored items) or earlier in the run gets the original's receipt.
    private func storeChecked(
        _ drafts: [MessageDraft], in target: MessagingStore.SendTarget, by actor: MessagingActor, originals: [String: Item],
        at now: Date, on sql: any SQLDatabase, append: ([MessageDraft]) async throws -> [ItemForFanOut]?
    ) async throws -> [Result<SendReceipt, any Error>]? {
        var sender: UserID?
        if case .user(let user) = actor { sender = user }
        var outcomes = [Result<SendReceipt, any Error>?](repeating: nil, count: drafts.count)
        var accepted: [(index: Int, draft: MessageDraft)] = []
        for (index, draft) in drafts.enumerated() {
            do {
                accepted.append((index, try await checked(draft, in: target, by: sender, at: now, on: sql)))
            } catch {
                outcomes[index] = .failure(error)
            }
        }
        var originals = originals
        var fresh: [(index: Int, draft: MessageDraft)] = []
        var repeats: [(index: Int, clientMsgID: String)] = []
        var claimed = Set<String>()
        for entry in accepted {
            if let clientMsgID = entry.draft.clientMsgID {
                if originals[clientMsgID] != nil || claimed.contains(clientMsgID) {
                    repeats.append((entry.index, clientMsgID))
                    continue
                }
                claimed.insert(clientMsgID)
            }
            fresh.append(entry)
        }
        guard let stored = try await append(fresh.map(\.draft)) else { return nil }
        recentMessages.offer(stored)
        let items = stored.map(\.item)
        for (entry, item) in zip(fresh, items) {
            outcomes[entry.index] = .success(SendReceipt(for: item, duplicate: false))
            if let clientMsgID = item.clientMsgID { originals[clientMsgID] = item }
        }
        for (index, clientMsgID) in repeats {
            guard let original = originals[clientMsgID] else { continue }
            outcomes[index] = .success(SendReceipt(for: original, duplicate: true))
        }
        return outcomes.map { $0 ?? .failure(ParleyError.internalError) }
    }

    /// A draft as it may be stored under the rules of `target` (the conversation as read under its lock), or
    /// the refusal. Reads only.
    func checked(_ draft: MessageDraft, in target: MessagingStore.SendTarget, by sender: UserID?, at now: Date,
                 on sql: any SQLDatabase) async throws -> MessageDraft {
        let conversation = target.conversation
        guard conversation.dissolvedAt == nil else { throw ParleyError.dissolved }
        var draft = draft
        if sender != nil {
            guard let (member, active) = target.membership, active else { throw ParleyError.notMember(conversation.id) }
            if let until = member.mutedUntil, until > now { throw ParleyError.memberMuted(until: Timestamp.format(until)) }
            if conversation.type == .broadcast, member.role < .admin { throw ParleyError.broadcastAdminsOnly }
            // `@all` is a group-wide alert: only owners and admins may raise it.
            if draft.mentions.contains("@all"), member.role < .admin, conversation.type != .direct {
                draft.mentions.removeAll { $0 == "@all" }
            }
        }
        if let replyTo = draft.replyTo {
            guard let target = try await store.item(id: replyTo, on: sql), target.conversationID == conversation.id else {
                throw ParleyError.messageNotFound(replyTo)
            }
        }
        return draft
    }

    /// Stores a message a moderator approved after the content policy held it (no second review).
    public func publishHeld(_ submission: ContentSubmission) async throws -> SendReceipt {
        guard submission.kind == "message", submission.actor.hasPrefix("user:"),
              case .string(let conversationID)? = submission.context["conversation_id"],
              case .string(let kindName)? = submission.context["message_kind"], let kind = ItemKind(rawValue: kindName) else {
            throw ParleyError.invalidField("submission", "not a held message")
        }
        let user = try UserID(validating: String(submission.actor.dropFirst("user:".count)))
        var mentions: [String] = []
        if case .array(let values)? = submission.context["mentions"] { mentions = values.compactMap(\.stringValue) }
        let draft = try MessageDraft(
            conversationID: conversationID, clientMsgID: submission.context["client_msg_id"]?.stringValue, kind: kind, body: submission.body,
            replyTo: submission.context["reply_to"]?.stringValue, mentions: mentions,
            forwardedFrom: submission.context["forwarded_from"]?.stringValue
        )
        return try await store(draft, by: .user(user))
    }

    /// Replaces a message's body (sender only, within the edit window); the edit is a log item too.
    public func edit(_ conversationID: String, messageID: String, body: JSONValue, by actor: MessagingActor) async throws -> Item {
        let now = clock.now()
        let checked = try await database.transaction { sql -> Item in
            let (conversation, _) = try await visibleConversation(conversationID, for: actor, on: sql)
            guard conversation.dissolvedAt == nil else { throw ParleyError.dissolved }
            let target = try await message(messageID, in: conversationID, on: sql)
            guard target.senderID == actor.senderID else { throw ParleyError.notSender }
            guard target.recalledAt == nil else { throw ParleyError.alreadyRecalled }
            guard target.kind.isEditable else { throw ParleyError.notEditable }
            guard now.timeIntervalSince(target.createdAt) <= settings.editWindow else { throw ParleyError.editWindowPassed }
            try MessageDraft.validate(kind: target.kind, body: body)
            return target
        }
        // The new text is reviewed like a new message, outside the transaction (the policy may call out).
        let body = try await reviewed(body, kind: "message_edit", messageKind: checked.kind, actor: actor, context: [
            "conversation_id": .string(conversationID), "message_id": .string(messageID),
        ])
        return try await database.transaction { sql in
            let target = try await message(messageID, in: conversationID, on: sql)
            guard target.recalledAt == nil else { throw ParleyError.alreadyRecalled }
            try await store.updateBody(target.id, body: body, editedAt: now, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .edit, senderID: actor.senderID, body: ["body": body], targetID: target.id,
                eventType: "message.edited", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// Withdraws a message for everyone: its sender within the recall window, a group owner or admin at
    /// any time, or the platform. The content is erased; a `recall` item tells clients.
    public func recall(_ conversationID: String, messageID: String, by actor: MessagingActor) async throws -> Item {
        let now = clock.now()
        return try await database.transaction { sql in
            let (conversation, member) = try await visibleConversation(conversationID, for: actor, on: sql)
            let target = try await message(messageID, in: conversationID, on: sql)
            guard target.recalledAt == nil else { throw ParleyError.alreadyRecalled }
            if let member {
                let moderates = conversation.type != .direct && member.role >= .admin
                if !moderates {
                    guard target.senderID == actor.senderID else { throw ParleyError.notSender }
                    guard now.timeIntervalSince(target.createdAt) <= settings.recallWindow else { throw ParleyError.recallWindowPassed }
                }
            }
            try await store.markRecalled(target.id, at: now, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .recall, senderID: actor.senderID, body: [:], targetID: target.id,
                eventType: "message.recalled", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// Adds or removes one emoji reaction of the user on a message. Returns the log item, or nil when nothing changed.
    public func react(_ conversationID: String, messageID: String, emoji: String, add: Bool, by user: UserID) async throws -> Item? {
        guard !emoji.isEmpty, emoji.count <= 8, emoji.utf8.count <= 64, !emoji.contains(where: \.isWhitespace) else {
            throw ParleyError.invalidField("emoji", "one emoji or a short reaction code")
        }
        let now = clock.now()
        return try await database.transaction { sql in
            let (conversation, _) = try await visibleConversation(conversationID, for: .user(user), on: sql)
            guard conversation.dissolvedAt == nil else { throw ParleyError.dissolved }
            let target = try await message(messageID, in: conversationID, on: sql)
            guard target.recalledAt == nil else { throw ParleyError.alreadyRecalled }
            guard try await store.setReaction(target.id, user: user, emoji: emoji, present: add, at: now, on: sql) else { return nil }
            return try await store.appendItem(
                conversationID: conversationID, kind: .reaction, senderID: user.rawValue,
                body: ["emoji": .string(emoji), "action": add ? "add" : "remove"], targetID: target.id,
                eventType: add ? "message.reaction_added" : "message.reaction_removed", actor: "user:\(user.rawValue)", at: now, on: sql
            )
        }
    }

    /// Pins or unpins a message: anyone in a direct conversation, owners and admins in groups.
    public func pin(_ conversationID: String, messageID: String, pinned: Bool, by actor: MessagingActor) async throws -> Item {
        let now = clock.now()
        return try await database.transaction { sql in
            let (conversation, member) = try await visibleConversation(conversationID, for: actor, on: sql)
            guard conversation.dissolvedAt == nil else { throw ParleyError.dissolved }
            if let member, conversation.type != .direct, member.role < .admin {
                throw ParleyError.notAllowed(pinned ? "pin messages" : "unpin messages", needs: .admin)
            }
            let target = try await message(messageID, in: conversationID, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: pinned ? .pin : .unpin, senderID: actor.senderID, body: [:], targetID: target.id,
                eventType: pinned ? "message.pinned" : "message.unpinned", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// Hides an item from the user's own history ("delete for me"); others still see it.
    public func deleteForMe(_ conversationID: String, messageID: String, user: UserID) async throws {
        try await database.transaction { sql in
            _ = try await visibleConversation(conversationID, for: .user(user), on: sql)
            let target = try await message(messageID, in: conversationID, on: sql)
            try await store.hide(conversationID, seq: target.seq, for: user, on: sql)
        }
    }

    /// A message `viewer` can see (an active member, after their join), for reports: nil otherwise.
    public func visibleMessage(_ id: String, to viewer: UserID) async throws -> Item? {
        guard let item = try await store.item(id: id, on: database.sql), item.kind.isMessage,
              let (member, active) = try await store.member(item.conversationID, viewer, on: database.sql), active,
              item.seq > member.visibleAfterSeq else { return nil }
        return item
    }

    func message(_ id: String, in conversationID: String, on sql: any SQLDatabase) async throws -> Item {
        guard let item = try await store.item(id: id, on: sql), item.conversationID == conversationID, item.kind.isMessage else {
            throw ParleyError.messageNotFound(id)
        }
        return item
    }

    // MARK: History

    /// Items of a conversation in ascending seq order. With `afterSeq`, the oldest after it; with only
    /// `beforeSeq` (or nothing), the newest before it. Items before the member joined are not shown.
    public func history(
        _ conversationID: String, for actor: MessagingActor, afterSeq: Int64?, beforeSeq: Int64?, limit: Int
    ) async throws -> (items: [Item], hasMore: Bool) {
        guard (1...200).contains(limit) else { throw ParleyError.invalidParameter("limit", "must be between 1 and 200") }
        if let afterSeq, afterSeq < 0 { throw ParleyError.invalidParameter("after_seq", "must not be negative") }
        if let beforeSeq, beforeSeq < 1 { throw ParleyError.invalidParameter("before_seq", "must be positive") }
        let (_, member) = try await visibleConversation(conversationID, for: actor)
        let floor = member?.visibleAfterSeq ?? 0
        let viewer = member?.userID ?? UserID(trusted: "system")
        let after = max(afterSeq ?? floor, floor)
        var items = try await store.items(conversationID, for: viewer, after: after, before: beforeSeq, limit: limit + 1,
                                          newestFirst: afterSeq == nil, on: database.sql)
        let hasMore = items.count > limit
        if hasMore {
            if afterSeq == nil { items.removeFirst() } else { items.removeLast() }
        }
        return (items, hasMore)
    }

    // MARK: Reads and receipts

    public struct ReadState: Sendable, Equatable {
        public var conversationID: String
        public var readSeq: Int64
        public var unreadCount: Int
        public var badge: Int
        /// Feed position of the read on the reader's feed; nil when the position did not move.
        public var userSeq: Int64?
    }

    /// Moves the user's read position to `seq` (never backwards; clamped to the conversation's last seq).
    public func markRead(_ conversationID: String, upTo seq: Int64, by user: UserID) async throws -> ReadState {
        guard seq >= 0 else { throw ParleyError.invalidSeq }
        let now = clock.now()
        let (readSeq, moved) = try await database.transaction { sql -> (Int64, Bool) in
            // Lock the conversation row first, as a send does: a send locks the conversation, the feed heads, then the
            // sender's member row; taking the member row and then the reader's feed head here, without the conversation
            // lock, deadlocks on PostgreSQL when one user reads and sends in the same conversation at once.
            guard try await store.conversation(conversationID, on: sql, lock: true) != nil else {
                throw ParleyError.conversationNotFound(conversationID)
            }
            let (conversation, member) = try await visibleConversation(conversationID, for: .user(user), on: sql)
            let target = min(seq, conversation.lastSeq)
            let before = member?.readSeq ?? 0
            let after = try await store.advanceRead(conversationID, user, to: target, on: sql)
            guard after > before else { return (after, false) }
            try await store.appendFeed(recipients: .users([user]), conversationID: conversationID, seq: after, kind: "read", at: now, on: sql)
            try await store.outbox.append(NewEvent(
                type: "conversation.read", actor: "user:\(user.rawValue)", subject: "conversation:\(conversationID)",
                payload: ["conversation_id": .string(conversationID), "user_id": .string(user.rawValue), "read_seq": .int(Int(after)),
                          "fanout": "read"],
                occurredAt: now
            ), on: sql)
            return (after, true)
        }
        let unread = try await store.unreadCounts(for: user, conversationIDs: [conversationID], on: database.sql)[conversationID] ?? 0
        let userSeq = moved ? try await store.feedHead(for: user, on: database.sql) : nil
        return ReadState(conversationID: conversationID, readSeq: readSeq, unreadCount: unread,
                         badge: try await store.badge(for: user, on: database.sql), userSeq: userSeq)
    }

    /// The total unread badge of a user.
    public func badge(for user: UserID) async throws -> Int {
        try await store.badge(for: user, on: database.sql)
    }

    public struct Readers: Sendable, Equatable {
        public var seq: Int64
        /// Members (other than the sender of that item) whose read position reached `seq`.
        public var readBy: [UserID]
        /// How many members could have read it (the other active members).
        public var of: Int
    }

    /// "Read by K of N" and who read up to `seq`, for any member of the conversation.
    public func readers(_ conversationID: String, seq: Int64, for actor: MessagingActor) async throws -> Readers {
        let (conversation, _) = try await visibleConversation(conversationID, for: actor)
        guard (1...max(1, conversation.lastSeq)).contains(seq) else { throw ParleyError.invalidSeq }
        let sender = try await store.item(conversationID, seq: seq, on: database.sql)?.senderID
        let positions = try await store.readPositions(conversationID, on: database.sql).filter { $0.0.rawValue != sender }
        return Readers(seq: seq, readBy: positions.filter { $0.1 >= seq }.map(\.0), of: positions.count)
    }

    /// Every active member's read position (for clients drawing receipts in a whole conversation).
    public func readPositions(_ conversationID: String, for actor: MessagingActor) async throws -> [(UserID, Int64)] {
        _ = try await visibleConversation(conversationID, for: actor)
        return try await store.readPositions(conversationID, on: database.sql)
    }

    // MARK: The per-user feed

    public struct ResumeToken: Sendable, Equatable, Codable {
        public var epoch: String
        public var userSeq: Int64

        public init(epoch: String, userSeq: Int64) {
            self.epoch = epoch
            self.userSeq = userSeq
        }
    }

    public struct FeedEntry: Sendable, Equatable {
        public var userSeq: Int64
        public var conversationID: String
        public var seq: Int64
        /// `item` (a log item; `item` is filled in), `read` (the user's read position moved to `seq`).
        public var kind: String
        public var item: Item?
    }

    public enum Resume: Sendable {
        /// What the user missed since the token, in feed order, and the token after it.
        case delta([FeedEntry], token: ResumeToken)
        /// Too much was missed, or the token is from another epoch: each conversation's last seq, to pull from.
        case resyncRequired(lastSeqs: [String: Int64], token: ResumeToken)
    }

    /// The user's current resume token.
    public func currentToken(for user: UserID) async throws -> ResumeToken {
        ResumeToken(epoch: try await store.epoch(), userSeq: try await store.feedHead(for: user, on: database.sql))
    }

    /// What changed for `user` since `token`: the items and read moves of every conversation, exactly
    /// once each and in the order they happened, or `resyncRequired` when that is too much.
    public func resume(_ user: UserID, from token: ResumeToken?) async throws -> Resume {
        let epoch = try await store.epoch()
        let head = try await store.feedHead(for: user, on: database.sql)
        let current = ResumeToken(epoch: epoch, userSeq: head)
        guard let token else { return .delta([], token: current) }
        guard token.epoch == epoch, token.userSeq <= head, token.userSeq >= 0 else {
            return .resyncRequired(lastSeqs: try await lastSeqs(for: user), token: current)
        }
        let entries = try await store.feed(for: user, after: token.userSeq, limit: settings.maxResumeEntries + 1, on: database.sql)
        // Retention may have pruned the entries right after the token: then the delta would have a hole.
        let expectedFirst = token.userSeq + 1
        let pruned = token.userSeq < head && (entries.first.map { $0.userSeq != expectedFirst } ?? true)
        guard entries.count <= settings.maxResumeEntries, !pruned else {
            return .resyncRequired(lastSeqs: try await lastSeqs(for: user), token: current)
        }
        var result: [FeedEntry] = []
        for entry in entries {
            var item: Item?
            if entry.kind == "item" {
                item = try await store.item(entry.conversationID, seq: entry.seq, on: database.sql)
            }
            result.append(FeedEntry(userSeq: entry.userSeq, conversationID: entry.conversationID, seq: entry.seq, kind: entry.kind, item: item))
        }
        let withReactions = try await store.withReactions(result.compactMap(\.item), on: database.sql)
        let byID = Dictionary(withReactions.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for index in result.indices {
            if let id = result[index].item?.id { result[index].item = byID[id] }
        }
        return .delta(result, token: ResumeToken(epoch: epoch, userSeq: result.last?.userSeq ?? token.userSeq))
    }

    func lastSeqs(for user: UserID) async throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        var after: (Int64, String)?
        while true {
            let rows = try await store.memberships(for: user, afterActivity: after, limit: 500, on: database.sql)
            for (conversation, _) in rows { result[conversation.id] = conversation.lastSeq }
            guard rows.count == 500, let last = rows.last?.0 else { break }
            after = (last.lastActivityAt.unixMilliseconds, last.id)
        }
        return result
    }

    /// Deletes feed entries older than the retention period; returns how many. Devices whose resume token
    /// falls into the pruned range get `resyncRequired`.
    @discardableResult
    public func pruneFeed() async throws -> Int {
        let cutoff = clock.now().addingTimeInterval(-settings.feedRetention)
        var total = 0
        while true {
            let removed = try await store.pruneFeed(before: cutoff, batch: 5000)
            total += removed
            if removed < 5000 { return total }
        }
    }

    /// Called by a live fan-out when it starts: from then on, messages this process stores are kept for it in memory
    /// (see `itemsForFanOut`).
    public func fanOutStarted() {
        recentMessages.enable()
    }

    /// Committed items for the live fan-out, many at once: each position asked for that exists, with the item
    /// and its recipients (each with the item's position in their feed). `ids` are the message ids the log
    /// names at those positions: a message this process just stored under that id comes from memory
    /// (`RecentMessages`); the rest cost two reads per conversation, whatever the number of items (a window
    /// of the log holds runs of each conversation's items).
    public func itemsForFanOut(_ positions: [ItemPosition], ids: [ItemPosition: String] = [:]) async throws -> [ItemPosition: ItemForFanOut] {
        var result = recentMessages.take(ids)
        var seqsByConversation: [String: ClosedRange<Int64>] = [:]
        for position in positions where result[position] == nil {
            let range = seqsByConversation[position.conversationID]
            seqsByConversation[position.conversationID] = min(range?.lowerBound ?? position.seq, position.seq)...max(range?.upperBound ?? position.seq, position.seq)
        }
        let wanted = Set(positions).subtracting(result.keys)
        for (conversationID, seqs) in seqsByConversation {
            let items = try await store.itemsWithReactions(conversationID, seqs: seqs, on: database.sql)
            let recipients = try await store.feedRecipients(conversationID, seqs: seqs, kind: "item", on: database.sql)
            for (seq, item) in items {
                let position = ItemPosition(conversationID: conversationID, seq: seq)
                guard wanted.contains(position) else { continue }
                result[position] = ItemForFanOut(item: item, recipients: recipients[seq] ?? [])
            }
        }
        return result
    }

    /// A stored item by position (the fan-out reads it after commit).
    public func storedItem(_ conversationID: String, seq: Int64) async throws -> Item? {
        try await store.itemWithReactions(conversationID, seq: seq, on: database.sql)
    }

    /// The read move's position on the reader's feed, for the fan-out.
    public func readFeedPosition(_ conversationID: String, user: UserID, readSeq: Int64) async throws -> Int64? {
        try await store.feedRecipients(conversationID, seq: readSeq, kind: "read", on: database.sql)
            .first(where: { $0.0 == user })?.1
    }

    /// The number of active members: decides whether receipts are pushed live.
    public func memberCount(_ conversationID: String) async throws -> Int {
        try await store.activeMemberCount(conversationID, on: database.sql)
    }

    /// Active member ids of a conversation (for live receipts and typing).
    public func memberIDs(_ conversationID: String) async throws -> [UserID] {
        try await store.activeMembers(conversationID, on: database.sql).map(\.userID)
    }

    /// A conversation and its active members, without a viewer's checks (automatic pushes decide who gets one).
    public func conversationWithMembers(_ id: String) async throws -> (Conversation, [Member])? {
        guard let conversation = try await store.conversation(id, on: database.sql) else { return nil }
        return (conversation, try await store.activeMembers(id, on: database.sql))
    }

    /// Whether `user` is an active member (typing indicators check this before relaying).
    public func isMember(_ conversationID: String, user: UserID) async throws -> Bool {
        try await store.member(conversationID, user, on: database.sql)?.active ?? false
    }
}
