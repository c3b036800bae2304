import Events
import Foundation
import Identity
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The user store's contract, run on every engine.
@Suite struct UserStoreContractTests {
    static let migrations = [EventLog.migrations, SQLUserStore.migrations]

    func withStore(_ engine: DatabaseEngine, _ body: @Sendable (SQLUserStore, EventLog) async throws -> Void) async throws {
        try await TestDatabases.withDatabase(engine, migrations: Self.migrations) { database in
            let events = EventLog(database: database, ids: SortableIDGenerator())
            try await body(SQLUserStore(database: database, outbox: events), events)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func upsertCreatesThenReplacesTheProfileAndRecordsEvents(engine: DatabaseEngine) async throws {
        try await withStore(engine) { store, events in
            let alice = try UserID(validating: "alice")
            let t0 = Date(unixMilliseconds: 1_767_225_600_000)
            let created = try await store.upsert(alice, profile: try UserProfile(name: "Alice", avatarURL: "https://x.test/a.png",
                                                                                  metadata: ["tier": "gold", "n": 3]), actor: "key:k1", at: t0)
            #expect(created.created)
            #expect(created.user.name == "Alice")
            let t1 = t0.addingTimeInterval(60)
            let updated = try await store.upsert(alice, profile: try UserProfile(name: "Alice B", avatarURL: nil, metadata: nil),
                                                 actor: "key:k1", at: t1)
            #expect(!updated.created)
            let found = try #require(try await store.find(alice))
            #expect(found.name == "Alice B")
            #expect(found.avatarURL == nil)
            #expect(found.metadata.isEmpty)
            #expect(found.createdAt == t0)
            #expect(found.updatedAt == t1)
            let log = try await events.read(after: 0, limit: 10)
            #expect(log.map(\.type) == ["user.created", "user.updated"])
            #expect(log.allSatisfy { $0.subject == "user:alice" && $0.actor == "key:k1" })
        }
    }

    @Test(arguments: TestDatabases.engines)
    func listingPagesByIDWithoutGapsOrRepeats(engine: DatabaseEngine) async throws {
        try await withStore(engine) { store, _ in
            let names = (0..<7).map { "user\($0)" }
            for name in names.shuffled() {
                _ = try await store.upsert(try UserID(validating: name), profile: try UserProfile(name: name, avatarURL: nil, metadata: nil),
                                           actor: "system", at: Date())
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await store.list(try PageRequest(limit: 3, cursor: cursor))
                seen += page.items.map(\.id.rawValue)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil
            #expect(seen == names.sorted())
            #expect(pages == 3)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func deactivationIsRecordedOnceAndReversible(engine: DatabaseEngine) async throws {
        try await withStore(engine) { store, events in
            let bob = try UserID(validating: "bob")
            _ = try await store.upsert(bob, profile: try UserProfile(name: "Bob", avatarURL: nil, metadata: nil), actor: "system", at: Date())
            let first = try #require(try await store.setActive(bob, active: false, actor: "key:k", at: Date(unixMilliseconds: 1000)))
            let second = try #require(try await store.setActive(bob, active: false, actor: "key:k", at: Date(unixMilliseconds: 2000)))
            #expect(first.deactivatedAt == Date(unixMilliseconds: 1000))
            #expect(second.deactivatedAt == Date(unixMilliseconds: 1000))
            let reactivated = try #require(try await store.setActive(bob, active: true, actor: "key:k", at: Date()))
            #expect(reactivated.isActive)
            #expect(try await store.setActive(try UserID(validating: "nobody"), active: false, actor: "key:k", at: Date()) == nil)
            #expect(try await events.read(after: 0, limit: 10).map(\.type) == ["user.created", "user.deactivated", "user.reactivated"])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func migrationsAreIdempotentAndRefuseRewrittenHistory(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: Self.migrations) { database in
            let migrator = Migrator(database: database)
            let reapplied = try await migrator.migrate(Self.migrations)
            #expect(reapplied.isEmpty)
            let rewritten = MigrationGroup(context: "identity", migrations: [Migration(1, "something else") { _ in [] }])
            await #expect(throws: MigrationError.self) { try await migrator.migrate([rewritten]) }
        }
    }
}
