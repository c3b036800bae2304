import Foundation
import Identity
import Messaging
import Moderation
import ParleyApp
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// The read before a member's send in a direct conversation finds the other member once. It names that member
/// (`t.peer_id`) three times besides returning it: whether there is one, and the block probes either way. Merged into
/// the outer query by either planner, each mention ran the member lookup again: five scans of `messaging_members`
/// per send on both engines (checked against the previous statement), where two are needed (the sender's
/// membership, the peer). The plan's shape is what is checked, from the engines' own `EXPLAIN`; blocks either way
/// still refuse.
@Suite struct DirectSendReadTests {
    /// Whether a line of an engine's plan is a scan of `table` (PostgreSQL: `... Scan ... on <table> <alias>`; SQLite:
    /// `SEARCH <alias> USING ... <index of table>` or `SCAN <table>`). A PostgreSQL bitmap index scan names only the
    /// index (`on <table>_pkey`) and belongs to the heap scan above it.
    static func scans(_ table: String, _ line: String) -> Bool {
        line.contains(" on \(table) ") || ((line.hasPrefix("SEARCH") || line.hasPrefix("SCAN")) && line.contains(table))
    }

    @Test(arguments: TestDatabases.engines)
    func aDirectSendReadsThePeerOnceAndBlocksStillRefuse(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, _ in
            let services = app.services
            let (people, direct) = try await app.aliceAndBobInADirectConversation()
            func send(_ text: String, by user: UserID) async throws -> SendReceipt {
                try await services.messaging.send(try TestApp.textDraft(text, to: direct), by: .user(user))
            }

            let statements = try await services.database.statementWork { _ = try await send("hello", by: people[0]) }
            let reads = statements.filter { $0.sql.contains("peer_blocked") }
            #expect(reads.count == 1, "\(engine): one read asks for the peer and blocks: \(statements.map(\.sql))")
            for read in reads {
                let memberScans = read.plan.filter { Self.scans("messaging_members", $0) }
                #expect(memberScans.count == 2, "\(engine): the sender's membership and the peer, once each:\n\(read.plan.joined(separator: "\n"))")
                #expect(read.plan.contains { Self.scans("moderation_blocks", $0) }, "\(engine): blocks are asked in the same read")
            }

            // Blocks either way refuse, and lifting the block lets the conversation go on.
            _ = try await services.moderation.blocks.block(people[1], by: people[0])
            for sender in people {
                do {
                    _ = try await send("blocked", by: sender)
                    Issue.record("\(engine): \(sender) sent across a block")
                } catch let error as ParleyError {
                    #expect(error.code == "moderation.blocked", "\(engine): \(error.code)")
                }
            }
            _ = try await services.moderation.blocks.unblock(people[1], by: people[0])
            _ = try await services.moderation.blocks.block(people[0], by: people[1])
            for sender in people {
                await #expect(throws: ParleyError.self, "\(engine): blocked the other way") { _ = try await send("blocked", by: sender) }
            }
            _ = try await services.moderation.blocks.unblock(people[0], by: people[1])
            #expect(try await send("friends again", by: people[1]).seq > 0)
        }
    }
}
