import Foundation
import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Reads whose cost must not grow with a conversation's history. Each is run on a conversation with one message and
/// on one with hundreds, and the engine's work for its statements (`Database.statementWork`: SQLite's VM steps,
/// PostgreSQL's rows per plan node) compared: a query that walks the history passes every functional test and only
/// shows at scale. Both checks failed on PostgreSQL with the queries they replaced (checked): the last message found
/// by comparing every item of the conversation with the newest seq, and a retried batch's client ids asked as an `IN`
/// list, which PostgreSQL without statistics answered by reading every item of the sender. (SQLite's plans for both
/// were already independent of the history; the checks hold it there.)
@Suite struct HistoryIndependentReadTests {
    static let history = 400

    /// The conversations `alice` has with `bob` (one message) and with `carol` (`history` messages, hers).
    func conversations(_ fx: MessagingFixture) async throws -> (people: [UserID], short: String, long: String) {
        let people = try await fx.makeUsers("alice", "bob", "carol")
        let (short, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
        let (long, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[2])
        try await fx.text("hello", in: short.id, from: people[0])
        try await history(fx, Self.history, in: long.id, from: people[0])
        return (people, short.id, long.id)
    }

    /// Sends `count` messages ("old 0", "old 1", ...) from `user` to `conversation`, pipelined a hundred at a time.
    func history(_ fx: MessagingFixture, _ count: Int, in conversation: String, from user: UserID) async throws {
        for start in stride(from: 0, to: count, by: 100) {
            let drafts = try (start..<min(start + 100, count)).map { index in
                try MessageDraft(conversationID: conversation, clientMsgID: "old-\(index)", kind: .text, body: ["text": .string("old \(index)")])
            }
            for outcome in await fx.service.sendAll(drafts, by: .user(user)) { _ = try outcome.get() }
        }
    }

    /// The work of the statements `body` runs, or of its reads that mention `column`.
    func work(_ fx: MessagingFixture, readingBy column: String? = nil, _ body: () async throws -> Void) async throws -> Int {
        let statements = try await fx.database.statementWork(of: body)
        let counted = statements.filter { statement in
            guard let column else { return true }
            return statement.sql.hasPrefix("SELECT") && statement.sql.contains(column)
        }
        #expect(!counted.isEmpty, "no statement measured")
        return counted.reduce(0) { $0 + $1.work }
    }

    @Test(arguments: TestDatabases.engines)
    func aConversationsSummaryCostsTheSameWhateverItsHistory(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let (people, short, long) = try await conversations(fx)
            // With statistics, as autovacuum keeps them: without any, PostgreSQL picks between two indexes of equal
            // estimated cost for the unread count, one of which filters the whole history.
            if engine == .postgres { try await fx.database.sql.raw("ANALYZE").run() }
            var last: [String: String?] = [:]
            let shortWork = try await work(fx) {
                last[short] = try await fx.service.conversation(short, for: .user(people[0])).lastMessage?.body["text"]?.stringValue
            }
            let longWork = try await work(fx) {
                last[long] = try await fx.service.conversation(long, for: .user(people[0])).lastMessage?.body["text"]?.stringValue
            }
            #expect(last[short] == "hello" && last[long] == "old \(Self.history - 1)", "the newest message of each")
            #expect(longWork <= shortWork * 3 / 2, "\(engine): \(longWork) against \(shortWork) with one message")
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aBatchsRetryCheckCostsTheSameWhateverTheHistory(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let (people, short, long) = try await conversations(fx)
            func batch(_ conversation: String) throws -> [MessageDraft] {
                try (0..<20).map { try MessageDraft(conversationID: conversation, clientMsgID: "new-\($0)", kind: .text, body: ["text": "new"]) }
            }
            // A new batch (the client ids are looked up and not found), then the same batch again (found: retries).
            var costs: [String: (new: Int, retried: Int)] = [:]
            for conversation in [short, long] {
                var duplicates: [Bool] = []
                let new = try await work(fx, readingBy: "client_msg_id") {
                    for outcome in await fx.service.sendAll(try batch(conversation), by: .user(people[0])) { duplicates.append(try outcome.get().duplicate) }
                }
                let retried = try await work(fx, readingBy: "client_msg_id") {
                    for outcome in await fx.service.sendAll(try batch(conversation), by: .user(people[0])) { duplicates.append(try outcome.get().duplicate) }
                }
                #expect(duplicates == Array(repeating: false, count: 20) + Array(repeating: true, count: 20))
                costs[conversation] = (new, retried)
            }
            let (shortCost, longCost) = (costs[short]!, costs[long]!)
            #expect(longCost.new <= shortCost.new * 3 / 2, "\(engine): new batch \(longCost.new) against \(shortCost.new)")
            #expect(longCost.retried <= shortCost.retried * 3 / 2, "\(engine): retried batch \(longCost.retried) against \(shortCost.retried)")
        }
    }

    /// A page of the conversation list reads its conversations' members, unread counts and last messages with one
    /// statement each for the whole page, not one per conversation.
    @Test(arguments: TestDatabases.engines)
    func aPageOfConversationsTakesTheSameStatementsWhateverItsLength(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol", "dave", "erin", "frank")
            let (first, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: people[1])
            try await fx.text("hi", in: first.id, from: people[1])
            func page() async throws -> (statements: Int, summaries: [ConversationSummary]) {
                var summaries: [ConversationSummary] = []
                let statements = try await fx.database.statementWork {
                    summaries = try await fx.service.conversations(for: people[0], page: try PageRequest(limit: 50)).items
                }
                return (statements.count, summaries)
            }
            let one = try await page()
            for other in people[2...] {
                let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: other)
                try await fx.text("hello", in: direct.id, from: other)
            }
            let team = try await fx.group(people[0], Array(people[1...]))
            let six = try await page()
            #expect(one.summaries.count == 1 && six.summaries.count == 6)
            #expect(six.statements == one.statements, "\(engine): \(six.statements) statements for six against \(one.statements) for one")
            // And what they read is each conversation's own.
            for summary in six.summaries {
                if summary.conversation.id == team.id {
                    #expect(summary.memberCount == 6 && summary.peer == nil && summary.unreadCount == 0)
                } else {
                    #expect(summary.memberCount == 2 && summary.peer != nil && summary.peer != people[0] && summary.unreadCount == 1)
                    #expect(summary.lastMessage?.senderID == summary.peer?.rawValue)
                }
            }
        }
    }

    /// Reading a page of history, marking a conversation read (which answers with its unread count and the badge) and
    /// resuming with nothing missed cost the same in a conversation of 50 messages and one of 400, with the same
    /// number unread. (Unread counts are derived from the items every time, so they cost what is unread.)
    @Test(arguments: TestDatabases.engines)
    func historyReadsAndResumeCostTheSameWhateverTheHistory(engine: DatabaseEngine) async throws {
        try await MessagingFixture.run(engine) { fx in
            let people = try await fx.makeUsers("alice", "bob", "carol")
            var costs: [Int: [String: Int]] = [:]
            for (other, length) in [(people[1], 50), (people[2], 400)] {
                let (direct, _) = try await fx.service.openDirect(by: .user(people[0]), user: people[0], with: other)
                try await history(fx, length, in: direct.id, from: other)
                // Everything read but the last 20, in this conversation and (as the earlier pass left it) the other.
                let last = try await fx.service.conversation(direct.id, for: .user(people[0])).conversation.lastSeq
                _ = try await fx.service.markRead(direct.id, upTo: last - 20, by: people[0])
                if engine == .postgres { try await fx.database.sql.raw("ANALYZE").run() }
                var cost: [String: Int] = [:]
                let token = try await fx.service.currentToken(for: people[0])
                cost["history"] = try await work(fx) {
                    let page = try await fx.service.history(direct.id, for: .user(people[0]), afterSeq: nil, beforeSeq: nil, limit: 20)
                    #expect(page.items.count == 20 && page.hasMore)
                }
                cost["resume"] = try await work(fx) { _ = try await fx.service.resume(people[0], from: token) }
                cost["read"] = try await work(fx) {
                    let state = try await fx.service.markRead(direct.id, upTo: last - 10, by: people[0])
                    #expect(state.unreadCount == 10)
                }
                costs[length] = cost
            }
            for (read, cost) in costs[400]! {
                #expect(cost <= costs[50]![read]! * 3 / 2, "\(engine) \(read): \(cost) at 400 messages against \(costs[50]![read]!) at 50")
            }
        }
    }
}
