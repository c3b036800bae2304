import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

extension MessagingService {
    /// Runs a membership change as the actor: loads the group, checks it is a live group and that the actor
    /// holds at least `role` (the platform may do anything), then runs `change` in the same transaction.
    func administer<T: Sendable>(
        _ conversationID: String, by actor: MessagingActor, needs role: MemberRole, action: String,
        _ change: @Sendable (any SQLDatabase, Conversation, Member?) async throws -> T
    ) async throws -> T {
        try await database.transaction { sql in
            guard let conversation = try await store.conversation(conversationID, on: sql, lock: true) else {
                throw ParleyError.conversationNotFound(conversationID)
            }
            guard conversation.type != .direct else { throw ParleyError.directIsFixed }
            guard conversation.dissolvedAt == nil else { throw ParleyError.dissolved }
            var actingMember: Member?
            if case .user(let user) = actor {
                guard let (member, active) = try await store.member(conversationID, user, on: sql), active else {
                    throw ParleyError.notMember(conversationID)
                }
                guard member.role >= role else { throw ParleyError.notAllowed(action, needs: role) }
                actingMember = member
            }
            return try await change(sql, conversation, actingMember)
        }
    }

    /// Adds (invites) users to a group: owners and admins, or any member when the group lets members invite.
    /// Their history starts at the `member_added` item.
    public func addMembers(_ conversationID: String, users newMembers: [UserID], by actor: MessagingActor) async throws -> Item {
        let wanted = Array(Set(newMembers)).sorted()
        guard !wanted.isEmpty else { throw ParleyError.invalidField("members", "name at least one user") }
        try await requireActive(wanted)
        let now = clock.now()
        return try await administer(conversationID, by: actor, needs: .member, action: "add members") { sql, conversation, acting in
            if let acting, acting.role < .admin, !conversation.membersCanInvite { throw ParleyError.notAllowed("add members", needs: .admin) }
            let current = Set(try await store.activeMembers(conversationID, on: sql).map(\.userID))
            let added = wanted.filter { !current.contains($0) }
            guard current.count + added.count <= settings.maxGroupMembers else { throw ParleyError.tooManyMembers }
            guard !added.isEmpty else { throw ParleyError(.conflict, code: "messaging.already_members", message: "Everyone named is already a member.") }
            // The join item's seq will be last_seq + 1: members see it and everything after.
            try await store.upsertMembers(conversationID, added.map { ($0, .member) }, visibleAfterSeq: conversation.lastSeq, at: now, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .memberAdded, senderID: actor.senderID,
                body: ["users": .array(added.map { .string($0.rawValue) })],
                eventType: "conversation.member_added", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// Removes a member (owners remove anyone but themselves; admins remove plain members).
    public func removeMember(_ conversationID: String, user target: UserID, by actor: MessagingActor) async throws -> Item {
        let now = clock.now()
        return try await administer(conversationID, by: actor, needs: .admin, action: "remove members") { sql, _, acting in
            guard let (member, active) = try await store.member(conversationID, target, on: sql), active else {
                throw ParleyError(.notFound, code: "messaging.member_not_found", message: "'\(target.rawValue)' is not a member.")
            }
            guard member.role != .owner else { throw ParleyError.notAllowed("remove the owner (transfer ownership first)", needs: .owner) }
            if let acting, acting.userID == target { throw ParleyError.invalidField("user_id", "use leave to remove yourself") }
            if let acting, acting.role == .admin, member.role >= .admin { throw ParleyError.notAllowed("remove an admin", needs: .owner) }
            try await store.deactivateMember(conversationID, target, at: now, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .memberRemoved, senderID: actor.senderID,
                body: ["user": .string(target.rawValue)], alsoNotify: [target],
                eventType: "conversation.member_removed", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// The user leaves a group. An owner must hand ownership on first, unless they are the last member.
    public func leave(_ conversationID: String, user: UserID) async throws -> Item {
        let now = clock.now()
        return try await administer(conversationID, by: .user(user), needs: .member, action: "leave") { sql, _, acting in
            let others = try await store.activeMembers(conversationID, on: sql).filter { $0.userID != user }
            if acting?.role == .owner, !others.isEmpty { throw ParleyError.ownerMustTransfer }
            try await store.deactivateMember(conversationID, user, at: now, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .memberLeft, senderID: user.rawValue, body: ["user": .string(user.rawValue)],
                alsoNotify: [user], eventType: "conversation.member_left", actor: "user:\(user.rawValue)", at: now, on: sql
            )
        }
    }

    /// Makes a member an admin or a plain member again (owner only).
    public func setRole(_ conversationID: String, user target: UserID, role: MemberRole, by actor: MessagingActor) async throws -> Item {
        guard role != .owner else { throw ParleyError.invalidField("role", "use transfer ownership to make someone the owner") }
        let now = clock.now()
        return try await administer(conversationID, by: actor, needs: .owner, action: "change roles") { sql, _, _ in
            guard let (member, active) = try await store.member(conversationID, target, on: sql), active, member.role != .owner else {
                throw ParleyError(.notFound, code: "messaging.member_not_found", message: "'\(target.rawValue)' is not a member whose role can change.")
            }
            try await store.setRole(conversationID, target, role, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .roleChanged, senderID: actor.senderID,
                body: ["user": .string(target.rawValue), "role": .string(role.rawValue)],
                eventType: "conversation.role_changed", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// Stops a member from sending for `seconds` (0 lifts the mute). Owners mute anyone else; admins mute plain members.
    public func muteMember(_ conversationID: String, user target: UserID, seconds: Int, by actor: MessagingActor) async throws -> Item {
        guard (0...(366 * 86_400)).contains(seconds) else { throw ParleyError.invalidField("duration_seconds", "0 to one year") }
        let now = clock.now()
        return try await administer(conversationID, by: actor, needs: .admin, action: "mute members") { sql, _, acting in
            guard let (member, active) = try await store.member(conversationID, target, on: sql), active else {
                throw ParleyError(.notFound, code: "messaging.member_not_found", message: "'\(target.rawValue)' is not a member.")
            }
            if let acting, member.role >= acting.role { throw ParleyError.notAllowed("mute this member", needs: .owner) }
            let until = seconds == 0 ? nil : now.addingTimeInterval(TimeInterval(seconds))
            try await store.setMutedUntil(conversationID, target, until, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .memberMuted, senderID: actor.senderID,
                body: ["user": .string(target.rawValue), "until": until.map { .string(Timestamp.format($0)) } ?? .null],
                eventType: "conversation.member_muted", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// Hands ownership to another member; the previous owner becomes an admin.
    public func transferOwnership(_ conversationID: String, to target: UserID, by actor: MessagingActor) async throws -> Item {
        let now = clock.now()
        return try await administer(conversationID, by: actor, needs: .owner, action: "transfer ownership") { sql, _, _ in
            guard let (_, active) = try await store.member(conversationID, target, on: sql), active else {
                throw ParleyError(.notFound, code: "messaging.member_not_found", message: "'\(target.rawValue)' is not a member.")
            }
            let owners = try await store.activeMembers(conversationID, on: sql).filter { $0.role == .owner }
            for owner in owners where owner.userID != target { try await store.setRole(conversationID, owner.userID, .admin, on: sql) }
            try await store.setRole(conversationID, target, .owner, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .ownerTransferred, senderID: actor.senderID,
                body: ["owner": .string(target.rawValue), "previous": .array(owners.map { .string($0.userID.rawValue) })],
                eventType: "conversation.owner_transferred", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// Changes a group's name, avatar or description (owners and admins).
    public func updateInfo(
        _ conversationID: String, name: String?, avatarURL: String??, description: String?, membersCanInvite: Bool? = nil,
        by actor: MessagingActor
    ) async throws -> Item {
        let now = clock.now()
        return try await administer(conversationID, by: actor, needs: .admin, action: "change the group's details") { sql, conversation, _ in
            let newName = name ?? conversation.name
            let newAvatar = avatarURL ?? conversation.avatarURL
            let newDescription = description ?? conversation.description
            try Self.validateInfo(name: newName, avatarURL: newAvatar, description: newDescription)
            let invite = membersCanInvite ?? conversation.membersCanInvite
            try await store.updateConversationInfo(conversationID, name: newName, avatarURL: newAvatar, description: newDescription,
                                                   membersCanInvite: invite, on: sql)
            return try await store.appendItem(
                conversationID: conversationID, kind: .updated, senderID: actor.senderID,
                body: ["name": .string(newName), "avatar_url": newAvatar.map { .string($0) } ?? .null, "description": .string(newDescription),
                       "members_can_invite": .bool(invite)],
                eventType: "conversation.updated", actor: actor.label, at: now, on: sql
            )
        }
    }

    /// Ends a group for everyone (owner only): no more messages; history stays readable.
    public func dissolve(_ conversationID: String, by actor: MessagingActor) async throws -> Item {
        let now = clock.now()
        return try await administer(conversationID, by: actor, needs: .owner, action: "dissolve the group") { sql, _, _ in
            let item = try await store.appendItem(
                conversationID: conversationID, kind: .dissolved, senderID: actor.senderID, body: [:],
                eventType: "conversation.dissolved", actor: actor.label, at: now, on: sql
            )
            try await store.markDissolved(conversationID, at: now, on: sql)
            return item
        }
    }

    /// The user's own settings for a conversation: notification mute and pin.
    public func updateSettings(_ conversationID: String, user: UserID, muted: Bool?, pinned: Bool?) async throws -> Member {
        try await database.transaction { sql in
            let (_, current) = try await visibleConversation(conversationID, for: .user(user), on: sql)
            guard var member = current else { throw ParleyError.notMember(conversationID) }
            member.notificationsMuted = muted ?? member.notificationsMuted
            member.pinned = pinned ?? member.pinned
            try await store.setSettings(conversationID, user, muted: member.notificationsMuted, pinned: member.pinned, on: sql)
            return member
        }
    }
}
