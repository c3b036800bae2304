import Foundation
import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Feed entries past their retention are pruned; a device whose token points into the pruned range
/// resyncs instead of receiving a delta with a hole in it.
@Suite struct FeedRetentionTests {
    @Test(arguments: TestDatabases.engines)
    func aTokenOlderThanTheRetainedFeedGetsResyncRequired(engine: DatabaseEngine) async throws {
        var settings = MessagingSettings()
        settings.feedRetention = 3600
        try await MessagingFixture.run(engine, settings: settings) { fixture in
            let people = try await fixture.makeUsers("alice", "bob")
            let (alice, bob) = (people[0], people[1])
            let conversation = try await fixture.service.openDirect(by: .user(alice), user: alice, with: bob).0.id
            let oldToken = try await fixture.service.currentToken(for: bob)
            try await fixture.text("old", in: conversation, from: alice)
            fixture.clock.advance(by: 7200)
            let recentToken = try await fixture.service.currentToken(for: bob)
            try await fixture.text("new", in: conversation, from: alice)
            #expect(try await fixture.service.pruneFeed() >= 2)

            guard case .resyncRequired(let lastSeqs, _) = try await fixture.service.resume(bob, from: oldToken) else {
                Issue.record("a token into the pruned range must resync")
                return
            }
            #expect(lastSeqs[conversation] == 3)
            guard case .delta(let entries, _) = try await fixture.service.resume(bob, from: recentToken) else {
                Issue.record("a token after the pruned range still resumes")
                return
            }
            #expect(entries.compactMap { $0.item?.body["text"]?.stringValue } == ["new"])
        }
    }
}
