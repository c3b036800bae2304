import Events
import Foundation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

@Suite struct EventLogContractTests {
    func event(_ type: String, _ n: Int) -> NewEvent {
        NewEvent(type: type, actor: "system", subject: "test:\(n)", payload: .object(["n": .int(n)]), occurredAt: Date(unixMilliseconds: Int64(n)))
    }

    @Test(arguments: TestDatabases.engines)
    func eventsAppendInOrderAndAreReadByPositionAndType(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            try await database.transaction { sql in
                try await log.append([event("a.one", 1), event("b.two", 2)], on: sql)
            }
            try await database.transaction { sql in try await log.append(event("a.one", 3), on: sql) }
            let all = try await log.read(after: 0, limit: 10)
            #expect(all.map(\.payload) == [.object(["n": 1]), .object(["n": 2]), .object(["n": 3])])
            #expect(all.map(\.position) == all.map(\.position).sorted())
            #expect(try await log.read(after: all[0].position, limit: 10).count == 2)
            #expect(try await log.read(after: 0, limit: 10, types: ["a.one"]).map(\.subject) == ["test:1", "test:3"])
            #expect(try await log.headPosition() == all[2].position)
        }
    }

    /// A window spans `limit` events of any type (its end is where a reader's cursor moves) and decodes only the
    /// wanted ones, in order, whether they are none, some or all of it.
    @Test(arguments: TestDatabases.engines)
    func aWindowSpansEveryTypeAndDecodesOnlyTheWantedOnes(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            try await database.transaction { sql in
                try await log.append([event("a.one", 1), event("b.two", 2), event("a.one", 3), event("c.three", 4), event("a.one", 5)], on: sql)
            }
            let all = try await log.read(after: 0, limit: 10)
            let some = try await log.window(after: 0, limit: 4, decoding: ["a.one"])
            #expect(some.count == 4 && some.end == all[3].position)
            #expect(some.events.map(\.subject) == ["test:1", "test:3"])
            #expect(some.events.map(\.payload) == [.object(["n": 1]), .object(["n": 3])])
            let none = try await log.window(after: 0, limit: 10, decoding: { @Sendable _ in false })
            #expect(none.count == 5 && none.end == all[4].position && none.events.isEmpty)
            let every = try await log.window(after: all[0].position, limit: 10, decoding: nil as Set<String>?)
            #expect(every.events.map(\.subject) == ["test:2", "test:3", "test:4", "test:5"] && every.end == all[4].position)
            let empty = try await log.window(after: all[4].position, limit: 10, decoding: ["a.one"])
            #expect(empty.count == 0 && empty.end == nil && empty.events.isEmpty)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aRolledBackTransactionLeavesNoEvent(engine: DatabaseEngine) async throws {
        struct Abort: Error {}
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            await #expect(throws: Abort.self) {
                try await database.transaction { sql in
                    try await log.append(event("x", 1), on: sql)
                    throw Abort()
                }
            }
            let remaining = try await log.read(after: 0, limit: 10)
            #expect(remaining.isEmpty)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func consumerCursorsPersistAndNeverMoveBackwards(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            #expect(try await log.cursor(of: "webhooks") == 0)
            try await log.commit(consumer: "webhooks", position: 5, at: Date())
            try await log.commit(consumer: "webhooks", position: 3, at: Date())
            #expect(try await log.cursor(of: "webhooks") == 5)
            try await log.commit(consumer: "webhooks", position: 9, at: Date())
            #expect(try await log.cursor(of: "webhooks") == 9)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func concurrentWritersNeverCommitAPositionBehindOneAlreadyVisible(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [EventLog.migrations]) { database in
            let log = EventLog(database: database, ids: SortableIDGenerator())
            // Writers append while a reader tails the log; the reader must end up with every event, each once,
            // in position order, without ever skipping one that commits late.
            let writers = 8, perWriter = 25
            let seen = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for index in 0..<perWriter {
                            try await database.transaction { sql in
                                try await log.append(event("w", writer * 1000 + index), on: sql)
                                // Still in the transaction after appending: a writer that drew a later position and
                                // committed first would be seen before this one, and this one skipped.
                                if index % 2 == 0 { try await Task.sleep(for: .milliseconds(1)) }
                            }
                        }
                        return []
                    }
                }
                group.addTask { try await log.tail(until: writers * perWriter, batch: 50).map(\.position) }
                var result: [Int64] = []
                for try await positions in group { result += positions }
                return result
            }
            #expect(seen.count == writers * perWriter)
            #expect(Set(seen).count == seen.count)
            #expect(seen == seen.sorted())
        }
    }
}
