import Foundation
import NIOHTTP1

/// Setup through Parley's HTTP API with an API key: users, tokens, conversations, and the documented
/// per-user send-limit override (an admin key is needed for that one).
struct ParleyAPI: Sendable {
    let http: HTTPPool
    let apiKey: String

    var auth: [(String, String)] { [("Authorization", "Bearer \(apiKey)")] }

    func check(_ response: HTTPPool.Response, _ what: String, expect: Set<Int> = [200, 201]) throws {
        guard expect.contains(response.status) else {
            throw BenchError("\(what): HTTP \(response.status) \(response.text.prefix(300))")
        }
    }

    func putUser(_ id: String) async throws {
        let response = try await http.request(.PUT, "/v1/users/\(id)", headers: auth, json: #"{"name":"\#(id)"}"#)
        try check(response, "PUT /v1/users/\(id)")
    }

    func token(for id: String, ttlSeconds: Int = 86_400) async throws -> String {
        let response = try await http.request(.POST, "/v1/tokens", headers: auth, json: #"{"user_id":"\#(id)","ttl_seconds":\#(ttlSeconds)}"#)
        try check(response, "POST /v1/tokens for \(id)")
        guard let token = response.json()?["token"] as? String else { throw BenchError("POST /v1/tokens: no token in \(response.text)") }
        return token
    }

    /// A direct conversation between two users, opened by the platform (no per-user creation limit applies).
    func openDirect(_ a: String, _ b: String) async throws -> String {
        let response = try await http.request(.POST, "/v1/conversations", headers: auth, json: #"{"type":"direct","members":["\#(a)","\#(b)"]}"#)
        try check(response, "POST /v1/conversations (direct \(a), \(b))")
        guard let id = response.json()?["id"] as? String else { throw BenchError("no conversation id in \(response.text)") }
        return id
    }

    /// A group owned by `owner` with `members`, created by the platform.
    func createGroup(name: String, owner: String, members: [String]) async throws -> String {
        let list = members.map { "\"\($0)\"" }.joined(separator: ",")
        let response = try await http.request(.POST, "/v1/conversations", headers: auth,
                                              json: #"{"type":"group","name":"\#(name)","owner":"\#(owner)","members":[\#(list)]}"#)
        try check(response, "POST /v1/conversations (group \(name))")
        guard let id = response.json()?["id"] as? String else { throw BenchError("no conversation id in \(response.text)") }
        return id
    }

    /// Raises the per-user `send_message` limit for the `user` role (PUT /v1/moderation/rate-limits/overrides,
    /// admin key). Returns what happened, for the report.
    func raiseUserSendLimit() async -> String {
        do {
            let response = try await http.request(.PUT, "/v1/moderation/rate-limits/overrides", headers: auth,
                                                   json: #"{"action":"send_message","scope":"role","target":"user","count":1000000,"period_seconds":1,"burst":1000000}"#)
            return response.status == 200 ? "raised" : "not raised (HTTP \(response.status))"
        } catch {
            return "not raised (\(error))"
        }
    }
}

/// Runs `body` over `items` with at most `limit` at a time, keeping the results in order.
func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
    var results = [R?](repeating: nil, count: items.count)
    try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var next = 0
        while next < items.count && next < limit {
            let index = next, item = items[index]
            group.addTask { (index, try await body(item)) }
            next += 1
        }
        while let (index, result) = try await group.next() {
            results[index] = result
            if next < items.count {
                let index = next, item = items[index]
                group.addTask { (index, try await body(item)) }
                next += 1
            }
        }
    }
    return results.map { $0! }
}
