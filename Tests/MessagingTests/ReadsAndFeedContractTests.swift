import Foundation
import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Read positions, unread counts and the badge (all derived, never drifting), receipts, and resuming
/// from the per-user feed.
@Suite struct ReadsAndFeedContractTests {
    @Test(arguments: TestDatabases.engines)
    func unreadAndBadgeFollowSendsReadsEditsRecallsAndMutes(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let (alice, bob, carol) = (people[0], people[1], people[2])
            let group = try await fx.group(alice, [bob, carol])
            let (direct, _) = try await fx.service.openDirect(by: .user(alice), user: alice, with: bob)
            #expect(try await fx.service.badge(for: bob) == 0)
            var last = try await fx.text("1", in: group.id, from: alice)
            try await fx.text("2", in: group.id, from: carol)
            try await fx.text("3", in: group.id, from: alice)
            try await fx.text("d1", in: direct.id, from: alice)
            #expect(try await fx.unread(group.id, for: bob) == 3)
            #expect(try await fx.service.badge(for: bob) == 4)
            // Your own messages are never unread to you, and sending reads everything before it.
            try await fx.text("mine", in: group.id, from: bob)
            #expect(try await fx.unread(group.id, for: bob) == 0)
            #expect(try await fx.unread(group.id, for: alice) == 1)
            last = try await fx.text("4", in: group.id, from: alice)
            try await fx.text("5", in: group.id, from: alice)
            let state = try await fx.service.markRead(group.id, upTo: last.seq, by: bob)
            #expect(state.readSeq == last.seq && state.unreadCount == 1 && state.badge == 2)
            // Reads never move backwards, and a seq past the end is clamped to it.
            let backwards = try await fx.service.markRead(group.id, upTo: 1, by: bob)
            #expect(backwards.readSeq == last.seq && backwards.unreadCount == 1 && backwards.userSeq == nil)
            // Edits, reactions and pins are not new messages.
            _ = try await fx.service.edit(group.id, messageID: last.messageID, body: ["text": "4!"], by: .user(alice))
            _ = try await fx.service.react(group.id, messageID: last.messageID, emoji: "👍", add: true, by: carol)
            #expect(try await fx.unread(group.id, for: bob) == 1)
            // Muting the conversation keeps its unread count but takes it out of the badge.
            _ = try await fx.service.updateSettings(direct.id, user: bob, muted: true, pinned: nil)
            #expect(try await fx.unread(direct.id, for: bob) == 1)
            #expect(try await fx.service.badge(for: bob) == 1)
            let end = try await fx.service.markRead(group.id, upTo: 10_000, by: bob)
            #expect(end.readSeq == (try await fx.service.conversation(group.id, for: .user(bob))).conversation.lastSeq)
            #expect(end.unreadCount == 0 && end.badge == 0)
            await expectError("messaging.invalid_seq") { try await fx.service.markRead(group.id, upTo: -1, by: bob) }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func receiptsCountOtherMembersWhoReadUpToTheSeq(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol", "dave")
            let group = try await fx.group(people[0], Array(people.dropFirst()))
            let sent = try await fx.text("did you read this?", in: group.id, from: people[0])
            var readers = try await fx.service.readers(group.id, seq: sent.seq, for: .user(people[0]))
            #expect(readers.readBy.isEmpty && readers.of == 3)
            _ = try await fx.service.markRead(group.id, upTo: sent.seq, by: people[1])
            _ = try await fx.service.markRead(group.id, upTo: sent.seq, by: people[3])
            readers = try await fx.service.readers(group.id, seq: sent.seq, for: .user(people[2]))
            #expect(readers.readBy == [people[1], people[3]] && readers.of == 3)
            await expectError("messaging.invalid_seq") { try await fx.service.readers(group.id, seq: sent.seq + 1, for: .user(people[0])) }
            await expectError("messaging.invalid_seq") { try await fx.service.readers(group.id, seq: 0, for: .user(people[0])) }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func resumeReturnsExactlyTheMissedItemsInOrder(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            let (alice, bob, carol) = (people[0], people[1], people[2])
            let group = try await fx.group(alice, [bob, carol])
            let (direct, _) = try await fx.service.openDirect(by: .user(alice), user: alice, with: bob)
            let token = try await fx.service.currentToken(for: bob)
            var expected: [(String, Int64)] = []
            for index in 0..<50 {
                let conversation = index.isMultiple(of: 3) ? direct.id : group.id
                let sender = index.isMultiple(of: 2) ? alice : (conversation == group.id ? carol : alice)
                let receipt = try await fx.text("missed \(index)", in: conversation, from: sender)
                expected.append((conversation, receipt.seq))
            }
            guard case .delta(let entries, let after) = try await fx.service.resume(bob, from: token) else {
                Issue.record("expected a delta")
                return
            }
            #expect(entries.count == 50)
            #expect(entries.map(\.conversationID) == expected.map(\.0))
            #expect(entries.map(\.seq) == expected.map(\.1))
            #expect(entries.map(\.userSeq) == Array((token.userSeq + 1)...(token.userSeq + 50)))
            #expect(entries.allSatisfy { $0.kind == "item" && $0.item?.kind == .text })
            #expect(entries.first?.item?.body == ["text": "missed 0"])
            #expect(after == (try await fx.service.currentToken(for: bob)))
            // Nothing new: an empty delta with the same token.
            guard case .delta(let none, let same) = try await fx.service.resume(bob, from: after) else {
                Issue.record("expected an empty delta")
                return
            }
            #expect(none.isEmpty && same == after)
            // A read is an entry of the reader's feed too.
            _ = try await fx.service.markRead(group.id, upTo: expected.last!.1, by: bob)
            guard case .delta(let reads, _) = try await fx.service.resume(bob, from: after) else {
                Issue.record("expected a delta")
                return
            }
            #expect(reads.map(\.kind) == ["read"] && reads.first?.item == nil)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func tokensFromAnotherEpochOrTooFarBackRequireAResync(engine: DatabaseEngine) async throws {
        var settings = MessagingSettings()
        settings.maxResumeEntries = 10
        try await MessagingFixture.run(engine, settings: settings) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            let token = try await fx.service.currentToken(for: people[1])
            for index in 0..<10 { try await fx.text("\(index)", in: direct.id, from: people[0]) }
            guard case .delta(let entries, _) = try await fx.service.resume(people[1], from: token) else {
                Issue.record("ten entries fit the bound")
                return
            }
            #expect(entries.count == 10)
            try await fx.text("one too many", in: direct.id, from: people[0])
            let lastSeq = try await fx.service.conversation(direct.id, for: .user(people[1])).conversation.lastSeq
            let current = try await fx.service.currentToken(for: people[1])
            for stale in [token, MessagingService.ResumeToken(epoch: "e_other", userSeq: current.userSeq),
                          MessagingService.ResumeToken(epoch: current.epoch, userSeq: current.userSeq + 5)] {
                guard case .resyncRequired(let lastSeqs, let fresh) = try await fx.service.resume(people[1], from: stale) else {
                    Issue.record("expected resync_required for \(stale)")
                    continue
                }
                #expect(lastSeqs == [direct.id: lastSeq])
                #expect(fresh == current)
            }
        }
    }

    @Test(arguments: TestDatabases.engines)
    func concurrentReadsAndSendsOfOneUserNeverDeadlock(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob")
            let group = try await fx.group(people[0], [people[1]])
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for index in 0..<20 {
                    tasks.addTask {
                        if index.isMultiple(of: 2) {
                            try await fx.text("m\(index)", in: group.id, from: people[1])
                        } else {
                            _ = try await fx.service.markRead(group.id, upTo: Int64(index), by: people[1])
                        }
                    }
                }
                try await tasks.waitForAll()
            }
            #expect(try await fx.unread(group.id, for: people[1]) == 0)
            #expect(try await fx.unread(group.id, for: people[0]) == 10)
        }
    }
}
