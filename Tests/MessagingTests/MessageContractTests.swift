import Foundation
import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The item log: dense seq, idempotent sends, who may post, and what happens to messages afterwards.
@Suite struct MessageContractTests {
    @Test(arguments: TestDatabases.engines)
    func concurrentSendsGetDenseSeqsWithoutGapsOrRepeats(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let group = try await fx.group(people[0], [people[1], people[2]])
            let receipts = try await withThrowingTaskGroup(of: [SendReceipt].self) { tasks in
                for task in 0..<6 {
                    let sender = people[task % people.count]
                    tasks.addTask {
                        var mine: [SendReceipt] = []
                        for index in 0..<8 { mine.append(try await fx.text("t\(task)-\(index)", in: group.id, from: sender)) }
                        return mine
                    }
                }
                var all: [SendReceipt] = []
                for try await batch in tasks { all += batch }
                return all
            }
            // seq 1 is the creation item; the 48 messages take 2...49, each exactly once.
            #expect(receipts.map(\.seq).sorted() == Array(2...49))
            let items = try await fx.allItems(group.id, for: people[0])
            #expect(items.map(\.seq) == Array(1...49))
            #expect(try await fx.service.conversation(group.id, for: .user(people[1])).conversation.lastSeq == 49)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aRetriedClientMessageIDReturnsTheOriginalReceiptAndStoresOneItem(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            let first = try await fx.text("hi", in: direct.id, from: people[0], clientMsgID: "cm-1")
            fx.clock.advance(by: 5)
            let retry = try await fx.text("hi", in: direct.id, from: people[0], clientMsgID: "cm-1")
            #expect(!first.duplicate)
            #expect(retry.duplicate)
            #expect(retry.messageID == first.messageID && retry.seq == first.seq && retry.createdAt == first.createdAt)
            // Concurrent retries of one send also collapse to one item.
            let racing = try await withThrowingTaskGroup(of: SendReceipt.self) { tasks in
                for _ in 0..<5 { tasks.addTask { try await fx.text("again", in: direct.id, from: people[0], clientMsgID: "cm-2") } }
                var all: [SendReceipt] = []
                for try await receipt in tasks { all.append(receipt) }
                return all
            }
            #expect(Set(racing.map(\.messageID)).count == 1)
            #expect(racing.filter { !$0.duplicate }.count == 1)
            // The same client id from the other person is their own message.
            let bobs = try await fx.text("hi", in: direct.id, from: people[1], clientMsgID: "cm-1")
            #expect(!bobs.duplicate)
            #expect(try await fx.allItems(direct.id, for: people[1]).filter(\.kind.isMessage).count == 3)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func nonMembersCannotReadOrSendAndMutedMembersWaitForTheMuteToEnd(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "eve")
            let (alice, bob, eve) = (people[0], people[1], people[2])
            let group = try await fx.group(alice, [bob])
            await expectError("messaging.not_member") { try await fx.text("let me in", in: group.id, from: eve) }
            await expectError("messaging.not_member") {
                try await fx.service.history(group.id, for: .user(eve), afterSeq: nil, beforeSeq: nil, limit: 10)
            }
            await expectError("messaging.not_member") { try await fx.service.markRead(group.id, upTo: 1, by: eve) }
            await expectError("messaging.conversation_not_found") { try await fx.text("?", in: "c_missing", from: eve) }
            _ = try await fx.service.muteMember(group.id, user: bob, seconds: 600, by: .user(alice))
            await expectError("messaging.member_muted") { try await fx.text("shh", in: group.id, from: bob) }
            await expectError("messaging.insufficient_role") {
                try await fx.service.muteMember(group.id, user: alice, seconds: 60, by: .user(bob))
            }
            fx.clock.advance(by: 599)
            await expectError("messaging.member_muted") { try await fx.text("now?", in: group.id, from: bob) }
            fx.clock.advance(by: 2)
            #expect(try await fx.text("back", in: group.id, from: bob).seq > 0)
            _ = try await fx.service.muteMember(group.id, user: bob, seconds: 600, by: .user(alice))
            _ = try await fx.service.muteMember(group.id, user: bob, seconds: 0, by: .user(alice))
            #expect(try await fx.text("unmuted early", in: group.id, from: bob).seq > 0)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func inABroadcastOnlyOwnersAndAdminsPost(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("station", "helper", "listener")
            let channel = try await fx.group(people[0], [people[1], people[2]], type: .broadcast, name: "News")
            await expectError("messaging.broadcast_admins_only") { try await fx.text("me too", in: channel.id, from: people[2]) }
            await expectError("messaging.broadcast_admins_only") { try await fx.text("me too", in: channel.id, from: people[1]) }
            _ = try await fx.service.setRole(channel.id, user: people[1], role: .admin, by: .user(people[0]))
            try await fx.text("from the admin", in: channel.id, from: people[1])
            try await fx.text("from the owner", in: channel.id, from: people[0])
            let system = try MessageDraft(conversationID: channel.id, clientMsgID: "sys-1", kind: .system, body: ["text": "maintenance"])
            #expect(try await fx.service.send(system, by: .platform(label: "key:k")).seq > 0)
            await expectError("request.invalid_field") { try await fx.service.send(system, by: .user(people[0])) }
            #expect(try await fx.unread(channel.id, for: people[2]) == 3)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func editingWorksForTheSenderWithinTheWindowOnly(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            let sent = try await fx.text("helo", in: direct.id, from: people[0])
            let unreadBefore = try await fx.unread(direct.id, for: people[1])
            fx.clock.advance(by: 3600)
            let edit = try await fx.service.edit(direct.id, messageID: sent.messageID, body: ["text": "hello"], by: .user(people[0]))
            #expect(edit.kind == .edit && edit.targetID == sent.messageID && edit.seq == sent.seq + 1)
            let stored = try #require(try await fx.service.storedItem(direct.id, seq: sent.seq))
            #expect(stored.body == ["text": "hello"])
            #expect(stored.editedAt == fx.clock.now())
            #expect(try await fx.unread(direct.id, for: people[1]) == unreadBefore)
            await expectError("messaging.not_sender") {
                try await fx.service.edit(direct.id, messageID: sent.messageID, body: ["text": "mine now"], by: .user(people[1]))
            }
            await expectError("messaging.invalid_body") {
                try await fx.service.edit(direct.id, messageID: sent.messageID, body: ["text": "   "], by: .user(people[0]))
            }
            await expectError("messaging.message_not_found") {
                try await fx.service.edit(direct.id, messageID: edit.id, body: ["text": "edit the edit"], by: .user(people[0]))
            }
            fx.clock.advance(by: fx.service.settings.editWindow)
            await expectError("messaging.edit_window_passed") {
                try await fx.service.edit(direct.id, messageID: sent.messageID, body: ["text": "too late"], by: .user(people[0]))
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func recallIsForTheSenderWithinTheWindowAndForAdminsAnyTime(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let (alice, bob, carol) = (people[0], people[1], people[2])
            let group = try await fx.group(alice, [bob, carol])
            let first = try await fx.text("oops", in: group.id, from: bob)
            let second = try await fx.text("also oops", in: group.id, from: bob)
            #expect(try await fx.unread(group.id, for: carol) == 2)
            await expectError("messaging.not_sender") {
                try await fx.service.recall(group.id, messageID: first.messageID, by: .user(carol))
            }
            let recall = try await fx.service.recall(group.id, messageID: first.messageID, by: .user(bob))
            #expect(recall.kind == .recall && recall.targetID == first.messageID)
            // The recalled message no longer counts as unread, and its content is gone.
            #expect(try await fx.unread(group.id, for: carol) == 1)
            let stored = try #require(try await fx.service.storedItem(group.id, seq: first.seq))
            #expect(stored.recalledAt != nil && stored.body == [:])
            await expectError("messaging.message_recalled") {
                try await fx.service.recall(group.id, messageID: first.messageID, by: .user(bob))
            }
            fx.clock.advance(by: fx.service.settings.recallWindow + 1)
            await expectError("messaging.recall_window_passed") {
                try await fx.service.recall(group.id, messageID: second.messageID, by: .user(bob))
            }
            _ = try await fx.service.recall(group.id, messageID: second.messageID, by: .user(alice))
            #expect(try await fx.unread(group.id, for: carol) == 0)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func reactionsAreAddedOnceAndRemoved(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let group = try await fx.group(people[0], [people[1]])
            let sent = try await fx.text("nice", in: group.id, from: people[0])
            let added = try #require(try await fx.service.react(group.id, messageID: sent.messageID, emoji: "👍", add: true, by: people[1]))
            #expect(added.kind == .reaction && added.body["action"] == "add")
            #expect(try await fx.service.react(group.id, messageID: sent.messageID, emoji: "👍", add: true, by: people[1]) == nil)
            _ = try await fx.service.react(group.id, messageID: sent.messageID, emoji: "👍", add: true, by: people[0])
            _ = try await fx.service.react(group.id, messageID: sent.messageID, emoji: "🎉", add: true, by: people[1])
            var stored = try #require(try await fx.service.storedItem(group.id, seq: sent.seq))
            #expect(stored.reactions["👍"]?.sorted() == ["alice", "bob"])
            #expect(stored.reactions["🎉"] == ["bob"])
            let removed = try await fx.service.react(group.id, messageID: sent.messageID, emoji: "👍", add: false, by: people[1])
            #expect(removed?.body["action"] == "remove")
            #expect(try await fx.service.react(group.id, messageID: sent.messageID, emoji: "👍", add: false, by: people[1]) == nil)
            stored = try #require(try await fx.service.storedItem(group.id, seq: sent.seq))
            #expect(stored.reactions == ["👍": ["alice"], "🎉": ["bob"]])
            await expectError("request.invalid_field") {
                try await fx.service.react(group.id, messageID: sent.messageID, emoji: "not an emoji", add: true, by: people[1])
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func historyPagesBackwardsAndForwardsWithHasMore(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            for index in 1...24 { try await fx.text("m\(index)", in: direct.id, from: people[index % 2]) }
            let actor = MessagingActor.user(people[0])
            let newest = try await fx.service.history(direct.id, for: actor, afterSeq: nil, beforeSeq: nil, limit: 10)
            #expect(newest.items.map(\.seq) == Array(16...25) && newest.hasMore)
            let older = try await fx.service.history(direct.id, for: actor, afterSeq: nil, beforeSeq: 16, limit: 10)
            #expect(older.items.map(\.seq) == Array(6...15) && older.hasMore)
            let oldest = try await fx.service.history(direct.id, for: actor, afterSeq: nil, beforeSeq: 6, limit: 10)
            #expect(oldest.items.map(\.seq) == Array(1...5) && !oldest.hasMore)
            let forward = try await fx.service.history(direct.id, for: actor, afterSeq: 20, beforeSeq: nil, limit: 3)
            #expect(forward.items.map(\.seq) == [21, 22, 23] && forward.hasMore)
            let window = try await fx.service.history(direct.id, for: actor, afterSeq: 10, beforeSeq: 13, limit: 10)
            #expect(window.items.map(\.seq) == [11, 12] && !window.hasMore)
            let tail = try await fx.service.history(direct.id, for: actor, afterSeq: 23, beforeSeq: nil, limit: 10)
            #expect(tail.items.map(\.seq) == [24, 25] && !tail.hasMore)
            await expectError("request.invalid_parameter") {
                try await fx.service.history(direct.id, for: actor, afterSeq: nil, beforeSeq: nil, limit: 0)
            }
            await expectError("request.invalid_parameter") {
                try await fx.service.history(direct.id, for: actor, afterSeq: -1, beforeSeq: nil, limit: 5)
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func deleteForMeHidesTheMessageFromOnePersonOnly(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            let keep = try await fx.text("keep", in: direct.id, from: people[0])
            let hide = try await fx.text("hide", in: direct.id, from: people[0])
            try await fx.service.deleteForMe(direct.id, messageID: hide.messageID, user: people[1])
            #expect(try await fx.allItems(direct.id, for: people[1]).map(\.id).contains(keep.messageID))
            #expect(try await !fx.allItems(direct.id, for: people[1]).map(\.id).contains(hide.messageID))
            #expect(try await fx.allItems(direct.id, for: people[0]).map(\.id).contains(hide.messageID))
            await expectError("messaging.message_not_found") {
                try await fx.service.deleteForMe(direct.id, messageID: "m_nope", user: people[1])
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func pinsAreForAdminsInGroupsAndForAnyoneInDirects(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let group = try await fx.group(people[0], [people[1]])
            let sent = try await fx.text("rules", in: group.id, from: people[1])
            await expectError("messaging.insufficient_role") {
                try await fx.service.pin(group.id, messageID: sent.messageID, pinned: true, by: .user(people[1]))
            }
            #expect(try await fx.service.pin(group.id, messageID: sent.messageID, pinned: true, by: .user(people[0])).kind == .pin)
            #expect(try await fx.service.pin(group.id, messageID: sent.messageID, pinned: false, by: .user(people[0])).kind == .unpin)
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            let note = try await fx.text("note", in: direct.id, from: people[0])
            let pin = try await fx.service.pin(direct.id, messageID: note.messageID, pinned: true, by: .user(people[1]))
            #expect(pin.targetID == note.messageID)
        }
    }
}
