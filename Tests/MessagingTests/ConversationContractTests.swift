import Foundation
import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Conversations and membership: who is in, who may change what, and what each member may see.
@Suite struct ConversationContractTests {
    @Test(arguments: TestDatabases.engines)
    func aPairHasExactlyOneDirectConversationWhoeverOpensIt(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let (alice, bob) = (people[0], people[1])
            let (first, created) = try await fx.service.openDirect(by: .user(alice), user: alice, with: bob)
            #expect(created)
            #expect(first.type == .direct)
            let (again, createdAgain) = try await fx.service.openDirect(by: .user(bob), user: bob, with: alice)
            #expect(!createdAgain)
            #expect(again.id == first.id)
            let (byPlatform, _) = try await fx.service.openDirect(by: .platform(label: "key:k"), user: bob, with: alice)
            #expect(byPlatform.id == first.id)
            await expectError("messaging.cannot_message_self") {
                try await fx.service.openDirect(by: .user(alice), user: alice, with: alice)
            }
            await expectError("identity.user_not_found") {
                try await fx.service.openDirect(by: .user(alice), user: alice, with: try UserID(validating: "ghost"))
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func concurrentOpensOfOnePairCreateOneConversation(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let ids = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for index in 0..<8 {
                    let (me, other) = index.isMultiple(of: 2) ? (people[0], people[1]) : (people[1], people[0])
                    group.addTask {
                        let (conversation, created) = try await fx.service.openDirect(by: .user(me), user: me, with: other)
                        return (conversation.id, created)
                    }
                }
                var results: [(String, Bool)] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(Set(ids.map(\.0)).count == 1)
            #expect(ids.filter(\.1).count == 1)
            let list = try await fx.service.conversations(for: people[0], page: try PageRequest())
            #expect(list.items.count == 1)
            #expect(list.items.first?.peer == people[1])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aMemberAddedLaterSeesHistoryFromTheirJoinOnly(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol", "dave")
            let (alice, bob, carol) = (people[0], people[1], people[2])
            let group = try await fx.group(alice, [bob])
            try await fx.text("before carol", in: group.id, from: bob)
            let joined = try await fx.service.addMembers(group.id, users: [carol], by: .user(alice))
            try await fx.text("after carol", in: group.id, from: bob)
            let seen = try await fx.allItems(group.id, for: carol)
            #expect(seen.map(\.seq) == [joined.seq, joined.seq + 1])
            #expect(seen.first?.kind == .memberAdded)
            #expect(try await fx.unread(group.id, for: carol) == 1)
            // Asking explicitly for older items does not reach behind the join either.
            let older = try await fx.service.history(group.id, for: .user(carol), afterSeq: 0, beforeSeq: joined.seq, limit: 50)
            #expect(older.items.isEmpty)
            #expect(try await fx.allItems(group.id, for: alice).count == 4)
            await expectError("messaging.already_members") { try await fx.service.addMembers(group.id, users: [carol], by: .user(alice)) }
            await expectError("messaging.insufficient_role") {
                try await fx.service.addMembers(group.id, users: [people[3]], by: .user(bob))
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func removalFollowsRolesAndAdminsCannotRemoveAdmins(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("owner", "admin1", "admin2", "member")
            let (owner, admin1, admin2, member) = (people[0], people[1], people[2], people[3])
            let group = try await fx.group(owner, [admin1, admin2, member])
            _ = try await fx.service.setRole(group.id, user: admin1, role: .admin, by: .user(owner))
            _ = try await fx.service.setRole(group.id, user: admin2, role: .admin, by: .user(owner))
            await expectError("messaging.insufficient_role") {
                try await fx.service.removeMember(group.id, user: admin2, by: .user(admin1))
            }
            await expectError("messaging.insufficient_role") { try await fx.service.removeMember(group.id, user: owner, by: .user(admin1)) }
            await expectError("messaging.insufficient_role") {
                try await fx.service.removeMember(group.id, user: admin1, by: .user(member))
            }
            await expectError("messaging.insufficient_role") {
                try await fx.service.setRole(group.id, user: member, role: .admin, by: .user(admin1))
            }
            let removed = try await fx.service.removeMember(group.id, user: member, by: .user(admin1))
            #expect(removed.kind == .memberRemoved)
            await expectError("messaging.not_member") { try await fx.text("still here?", in: group.id, from: member) }
            await expectError("messaging.not_member") {
                try await fx.service.history(group.id, for: .user(member), afterSeq: nil, beforeSeq: nil, limit: 10)
            }
            await expectError("messaging.member_not_found") { try await fx.service.removeMember(group.id, user: member, by: .user(owner)) }
            _ = try await fx.service.removeMember(group.id, user: admin2, by: .user(owner))
            #expect(try await fx.service.members(group.id, for: .user(owner)).map(\.userID) == [admin1, owner])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func theOwnerTransfersBeforeLeavingAndTheNewOwnerRules(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let (alice, bob, carol) = (people[0], people[1], people[2])
            let group = try await fx.group(alice, [bob, carol])
            await expectError("messaging.owner_must_transfer") { try await fx.service.leave(group.id, user: alice) }
            await expectError("messaging.insufficient_role") { try await fx.service.transferOwnership(group.id, to: carol, by: .user(bob)) }
            _ = try await fx.service.transferOwnership(group.id, to: bob, by: .user(alice))
            let members = try await fx.service.members(group.id, for: .user(bob))
            let roles = Dictionary(uniqueKeysWithValues: members.map { ($0.userID, $0.role) })
            #expect(roles == [alice: .admin, bob: .owner, carol: .member])
            let left = try await fx.service.leave(group.id, user: alice)
            #expect(left.kind == .memberLeft)
            await expectError("messaging.not_member") { try await fx.service.conversation(group.id, for: .user(alice)) }
            _ = try await fx.service.leave(group.id, user: carol)
            // The last member may leave even as owner.
            _ = try await fx.service.leave(group.id, user: bob)
            #expect(try await fx.service.memberCount(group.id) == 0)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aDissolvedGroupRefusesSendsButKeepsItsHistory(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let group = try await fx.group(people[0], [people[1]])
            try await fx.text("hello", in: group.id, from: people[1])
            await expectError("messaging.insufficient_role") { try await fx.service.dissolve(group.id, by: .user(people[1])) }
            let dissolved = try await fx.service.dissolve(group.id, by: .user(people[0]))
            #expect(dissolved.kind == .dissolved)
            await expectError("messaging.conversation_dissolved") { try await fx.text("anyone?", in: group.id, from: people[1]) }
            await expectError("messaging.conversation_dissolved") {
                try await fx.service.addMembers(group.id, users: [people[0]], by: .platform(label: "key:k"))
            }
            #expect(try await fx.allItems(group.id, for: people[1]).map(\.kind) == [.created, .text, .dissolved])
            #expect(try await fx.service.conversation(group.id, for: .user(people[1])).conversation.dissolvedAt != nil)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func directConversationsHaveFixedMembersAndPlatformAdministersGroups(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            await expectError("messaging.direct_is_fixed") {
                try await fx.service.addMembers(direct.id, users: [people[2]], by: .user(people[0]))
            }
            await expectError("messaging.direct_is_fixed") { try await fx.service.leave(direct.id, user: people[0]) }
            let platform = MessagingActor.platform(label: "key:backend")
            let group = try await fx.service.createGroup(by: platform, owner: people[0], type: .group, name: "Ops", avatarURL: nil,
                                                         description: "", members: [people[1]])
            _ = try await fx.service.addMembers(group.id, users: [people[2]], by: platform)
            _ = try await fx.service.updateInfo(group.id, name: "Ops 2", avatarURL: .some("https://x.test/a.png"), description: nil,
                                                by: platform)
            let summary = try await fx.service.conversation(group.id, for: platform)
            #expect(summary.conversation.name == "Ops 2")
            #expect(summary.memberCount == 3)
            await expectError("request.invalid_field") {
                try await fx.service.updateInfo(group.id, name: nil, avatarURL: .some("ftp://nope"), description: nil, by: .user(people[0]))
            }
            await expectError("messaging.conversation_not_found") { try await fx.service.conversation("c_nope", for: .user(people[0])) }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func settingsMuteAndPinAreTheMembersOwn(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let group = try await fx.group(people[0], [people[1]])
            let member = try await fx.service.updateSettings(group.id, user: people[1], muted: true, pinned: nil)
            #expect(member.notificationsMuted && !member.pinned)
            let after = try await fx.service.updateSettings(group.id, user: people[1], muted: nil, pinned: true)
            #expect(after.notificationsMuted && after.pinned)
            let alices = try await fx.service.conversation(group.id, for: .user(people[0])).membership
            #expect(!alices.notificationsMuted && !alices.pinned)
        }
    }
}

/// Invitations: who may add people to a group.
@Suite struct InvitationContractTests {
    @Test(arguments: TestDatabases.engines)
    func membersInviteOnlyWhenTheGroupAllowsIt(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fixture in
            let people = try await fixture.makeUsers("owner", "member", "guest")
            let (owner, member, guest) = (people[0], people[1], people[2])
            let messaging = fixture.service
            let group = try await messaging.createGroup(by: .user(owner), owner: owner, type: .group, name: "G", avatarURL: nil,
                                                        description: "", members: [member])
            #expect(!group.membersCanInvite)
            do {
                _ = try await messaging.addMembers(group.id, users: [guest], by: .user(member))
                Issue.record("a plain member added someone to a closed group")
            } catch let error as ParleyError {
                #expect(error.code == "messaging.insufficient_role")
            }
            _ = try await messaging.updateInfo(group.id, name: nil, avatarURL: nil, description: nil, membersCanInvite: true, by: .user(owner))
            let added = try await messaging.addMembers(group.id, users: [guest], by: .user(member))
            #expect(added.kind == .memberAdded)
            let members = try await messaging.members(group.id, for: .user(owner)).map(\.userID)
            #expect(members.contains(guest))
        }
    }
}
