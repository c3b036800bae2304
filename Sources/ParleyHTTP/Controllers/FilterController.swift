import Foundation
import Hummingbird
import Moderation
import ParleyCore

/// Admin routes for the sensitive-word dictionaries: list, add or change, remove, and try a text.
/// Every change is rebuilt and swapped in at once on this node (other nodes within a minute) and audited.
public struct FilterController: Sendable {
    let words: SensitiveWords

    public init(words: SensitiveWords) {
        self.words = words
    }

    struct EntryBody: Decodable, Sendable {
        let scope: String?
        let word: String
        let category: String?
        let severity: Int?
        let action: String
        let replacement: String?
    }

    struct UpsertBody: RequestBody {
        static let fields: Set<String> = ["entries"]
        let entries: [EntryBody]
    }

    struct TestBody: RequestBody {
        static let fields: Set<String> = ["text", "scope"]
        let text: String
        let scope: String?
    }

    static func json(_ entry: SensitiveWords.Entry) -> JSONValue {
        [
            "scope": .string(entry.scope), "word": .string(entry.word), "category": .string(entry.category),
            "severity": .int(entry.severity), "action": .string(entry.action), "replacement": entry.replacement.map { .string($0) } ?? .null,
        ]
    }

    public func register(on routes: RouteTable) {
        routes.add(.get, "/v1/moderation/filter/words", policy: .userWithRoleOrAPIKey(.admin, .admin)) { request, _ in
            let scope = request.uri.queryParameters["scope"].map(String.init) ?? SensitiveWords.globalScope
            let page = try await words.entries(scope: scope, page: try request.pageRequest())
            return try JSONBody.response(JSONValue.object([
                "items": .array(page.items.map(Self.json)), "next_cursor": page.nextCursor.map { .string($0) } ?? .null,
            ]))
        }
        routes.add(.put, "/v1/moderation/filter/words", policy: .userWithRoleOrAPIKey(.admin, .admin)) { request, context in
            let body = try await request.decodeBody(UpsertBody.self, context: context)
            guard (1...5000).contains(body.entries.count) else { throw ParleyError.invalidField("entries", "1 to 5000 entries") }
            let entries = body.entries.map { entry in
                SensitiveWords.Entry(scope: entry.scope ?? SensitiveWords.globalScope, word: entry.word, category: entry.category ?? "default",
                                     severity: entry.severity ?? 1, action: entry.action, replacement: entry.replacement)
            }
            try await words.upsert(entries, by: try context.requirePrincipal().label)
            return try JSONBody.response(JSONValue.object(["updated": .int(entries.count)]))
        }
        routes.add(.delete, "/v1/moderation/filter/words/{scope}/{word}", policy: .userWithRoleOrAPIKey(.admin, .admin)) { _, context in
            let scope = context.parameters.get("scope")?.removingPercentEncoding ?? ""
            let word = context.parameters.get("word")?.removingPercentEncoding ?? ""
            guard try await words.remove(scope: scope, word: word, by: try context.requirePrincipal().label) else {
                throw ParleyError(.notFound, code: "moderation.word_not_found", message: "No entry '\(word)' in scope '\(scope)'.")
            }
            return Response(status: .noContent)
        }
        routes.add(.post, "/v1/moderation/filter/test", policy: .userWithRoleOrAPIKey(.moderator, .admin)) { request, context in
            let body = try await request.decodeBody(TestBody.self, context: context)
            guard body.text.utf8.count <= 64 * 1024 else { throw ParleyError.fieldTooLong("text", limit: 64 * 1024) }
            let result = words.test(body.text, scope: body.scope)
            return try JSONBody.response(JSONValue.object([
                "verdict": .string(result.verdict), "text": .string(result.text),
                "matches": .array(result.hits.map { hit in
                    [
                        "word": .string(hit.word), "category": .string(hit.category), "action": .string(hit.action),
                        "utf8_start": .int(hit.utf8Start), "utf8_end": .int(hit.utf8End), "matched": .string(hit.matched),
                        "folds": .string(hit.folds),
                    ]
                }),
            ]))
        }
    }
}
