import Foundation
import Moderation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Synchronization

/// A moderation service on a fresh database, with recording doubles for the seams other contexts fill.
struct ModerationFixture: Sendable {
    let service: ModerationService
    let clock: ManualWallClock
    let publisher: RecordingPublisher
    let remover: RecordingRemover
    let database: Database

    static func run(_ engine: DatabaseEngine, settings: ModerationSettings = ModerationSettings(),
                    _ body: @Sendable (ModerationFixture) async throws -> Void) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [ModerationService.migrations]) { database in
            let clock = ManualWallClock()
            let publisher = RecordingPublisher()
            let remover = RecordingRemover()
            let service = ModerationService(database: database, ids: SortableIDGenerator(clock: clock), clock: clock, settings: settings,
                                            publishers: [publisher], remover: remover, resolver: FixedResolver())
            try await body(ModerationFixture(service: service, clock: clock, publisher: publisher, remover: remover, database: database))
        }
    }

    /// Every audit line about `subject`, oldest first.
    func auditActions(subject: String) async throws -> [String] {
        try await service.audit.entries(subject: subject, page: PageRequest(limit: 200)).items.reversed().map(\.action)
    }

    func auditActions(actor: String) async throws -> [String] {
        try await service.audit.entries(actor: actor, page: PageRequest(limit: 200)).items.reversed().map(\.action)
    }
}

/// Publishes `message` submissions by remembering them.
final class RecordingPublisher: HeldContentPublisher {
    let kinds: Set<String> = ["message"]
    let published = Mutex<[ContentSubmission]>([])

    func publish(_ submission: ContentSubmission) async throws -> String {
        published.withLock { list in
            list.append(submission)
            return "m_published_\(list.count)"
        }
    }

    var count: Int { published.withLock { $0.count } }
}

final class RecordingRemover: ContentRemover {
    let removed = Mutex<[ModerationSubject]>([])

    func remove(_ subject: ModerationSubject, actor: String) async throws {
        removed.withLock { $0.append(subject) }
    }
}

/// Messages `m_<author>_<n>` are written by `<author>` in conversation `c_1`; `m_hidden` is invisible.
struct FixedResolver: ReportedContentResolver {
    func resolve(_ subject: ModerationSubject, reporter: UserID) async throws -> ReportedContent? {
        guard subject.id != "m_hidden" else { return nil }
        let parts = subject.id.split(separator: "_")
        return ReportedContent(author: parts.count >= 2 ? UserID(trusted: String(parts[1])) : nil, conversationID: "c_1")
    }
}

/// A text screen that answers by keyword: `REVIEW`, `REJECT`, `MASK`.
struct KeywordScreen: TextScreen {
    let name = "keywords"

    func screen(_ text: String, in submission: ContentSubmission) async throws -> TextScreenOutcome {
        if text.contains("REVIEW") { return .review(reason: "keyword_review") }
        if text.contains("REJECT") { return .reject(code: "moderation.sensitive_word", reason: "contains a forbidden word") }
        if text.contains("MASK") { return .rewrite(text.replacingOccurrences(of: "MASK", with: "****")) }
        return .allow
    }
}

extension UserID {
    static let alice = UserID(trusted: "alice")
    static let bob = UserID(trusted: "bob")
    static let carol = UserID(trusted: "carol")
}
