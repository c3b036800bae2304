import Events
import Foundation
import Identity
import Messaging
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// A messaging service on a brand-new database of one engine, with a hand-moved clock and helpers that
/// keep the contract tests about the rules rather than the set-up.
struct MessagingFixture: Sendable {
    static let migrations = [EventLog.migrations, SQLUserStore.migrations, MessagingService.migrations]

    let service: MessagingService
    let users: SQLUserStore
    let clock: ManualWallClock
    let database: Database

    /// Runs `body` on a fresh database of `engine`.
    static func run(
        _ engine: DatabaseEngine, settings: MessagingSettings = MessagingSettings(),
        _ body: @Sendable (MessagingFixture) async throws -> Void
    ) async throws {
        try await TestDatabases.withDatabase(engine, migrations: migrations) { database in
            let clock = ManualWallClock()
            let ids = SortableIDGenerator()
            let events = EventLog(database: database, ids: ids)
            let users = SQLUserStore(database: database, outbox: events)
            let service = MessagingService(database: database, outbox: events, users: StoreUserDirectory(users: users), clock: clock,
                                           ids: ids, settings: settings)
            try await body(MessagingFixture(service: service, users: users, clock: clock, database: database))
        }
    }

    /// Creates active users and returns their ids, in the order given.
    func makeUsers(_ names: String...) async throws -> [UserID] {
        var result: [UserID] = []
        for name in names {
            let id = try UserID(validating: name)
            let profile = try UserProfile(name: name, avatarURL: nil, metadata: nil)
            _ = try await users.upsert(id, profile: profile, actor: "test", at: clock.now())
            result.append(id)
        }
        return result
    }

    /// A group owned by `owner` with `members` as plain members.
    func group(_ owner: UserID, _ members: [UserID], type: ConversationType = .group, name: String = "Team") async throws -> Conversation {
        try await service.createGroup(by: .user(owner), owner: owner, type: type, name: name, avatarURL: nil, description: "",
                                      members: members)
    }

    /// Sends a text message as `user`; the client message id defaults to a fresh one.
    @discardableResult
    func text(_ text: String, in conversation: String, from user: UserID, clientMsgID: String? = nil) async throws -> SendReceipt {
        let draft = try MessageDraft(conversationID: conversation, clientMsgID: clientMsgID ?? UUID().uuidString, kind: .text,
                                     body: ["text": .string(text)])
        return try await service.send(draft, by: .user(user))
    }

    /// Every item the user sees in the conversation, oldest first.
    func allItems(_ conversation: String, for user: UserID) async throws -> [Item] {
        var items: [Item] = []
        var after: Int64 = 0
        while true {
            let page = try await service.history(conversation, for: .user(user), afterSeq: after, beforeSeq: nil, limit: 200)
            items += page.items
            guard page.hasMore, let last = page.items.last else { return items }
            after = last.seq
        }
    }

    func unread(_ conversation: String, for user: UserID) async throws -> Int {
        try await service.conversation(conversation, for: .user(user)).unreadCount
    }
}

/// Messaging's view of Identity, straight on the SQL user store.
struct StoreUserDirectory: UserDirectory {
    let users: SQLUserStore

    func activeUsers(among ids: [UserID]) async throws -> Set<UserID> {
        try await users.activeUsers(among: ids)
    }
}

/// Expects `body` to throw a `ParleyError` with `code`.
func expectError<T>(
    _ code: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected \(code), but it succeeded", sourceLocation: sourceLocation)
    } catch let error as ParleyError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(String(reflecting: error))", sourceLocation: sourceLocation)
    }
}
