import Foundation
import HTTPTypes
import Hummingbird
import Identity
import Messaging
import ParleyCore

/// The REST API of chat: conversations, members, messages, reads and the sync feed.
///
/// Every route takes a user token, or an API key acting for a user named by the `Parley-Act-As` header
/// (the platform's backend relaying its own client). An API key without that header acts as the platform
/// itself, which the messaging rules allow for system messages, reading a conversation and administering
/// groups; routes that only make sense for a person (their list, reads, reactions, settings, sync) then
/// answer `auth.act_as_required`. A user token carrying `Parley-Act-As` is refused (`auth.act_as_forbidden`)
/// rather than ignored, so a client that believes it acts for someone else learns it at once.
///
/// The routes live in `ConversationsController+*.swift`, one file per area.
public struct ConversationsController: Sendable {
    /// The header a server key uses to act for one user.
    public static let actAsHeader = HTTPField.Name.parleyActAs

    let messaging: MessagingService
    let users: any UserStore

    public init(messaging: MessagingService, users: any UserStore) {
        self.messaging = messaging
        self.users = users
    }

    public func register(on routes: RouteTable) {
        registerConversationRoutes(on: routes)
        registerMemberRoutes(on: routes)
        registerMessageRoutes(on: routes)
        registerReadRoutes(on: routes)
    }

    // MARK: Who is acting

    /// Who the request acts as: the token's user, the user a server key names with `Parley-Act-As`, or the platform.
    func actor(_ request: Request, _ context: ParleyRequestContext) async throws -> MessagingActor {
        if let user = try await ActingUser.resolve(request, context, users: users) { return .user(user) }
        return .platform(label: try context.requirePrincipal().label)
    }

    /// The user the request acts for; throws `auth.act_as_required` for a server key without `Parley-Act-As`.
    func actingUser(_ request: Request, _ context: ParleyRequestContext) async throws -> UserID {
        try await ActingUser.require(request, context, users: users)
    }

    /// A conversation as the actor sees it: with their unread count and settings when the actor is a user.
    func conversationJSON(_ id: String, for actor: MessagingActor) async throws -> JSONValue {
        let summary = try await messaging.conversation(id, for: actor)
        if case .user = actor { return MessagingWire.conversation(summary) }
        return MessagingWire.conversation(summary, includeMembership: false)
    }
}

// MARK: Request helpers shared by the messaging routes

extension ParleyRequestContext {
    /// A path parameter, percent-decoded (clients encode emoji, `@` and `:` in paths).
    func decodedParameter(_ name: String) throws(ParleyError) -> String {
        guard let raw = parameters.get(name), let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw ParleyError.invalidParameter(name, "must be a non-empty, correctly percent-encoded path segment")
        }
        return decoded
    }

    var conversationID: String {
        get throws(ParleyError) { try decodedParameter("conversation_id") }
    }

    var messageID: String {
        get throws(ParleyError) { try decodedParameter("message_id") }
    }

    /// The `user_id` path parameter, percent-decoded and validated.
    var targetUserID: UserID {
        get throws(ParleyError) { try UserID(validating: try decodedParameter("user_id")) }
    }
}

extension Request {
    /// An optional integer query parameter; an empty value counts as absent, anything else non-numeric is refused.
    func integerQuery(_ name: String) throws(ParleyError) -> Int64? {
        guard let raw = uri.queryParameters.get(name), !raw.isEmpty else { return nil }
        guard let value = Int64(raw) else { throw ParleyError.invalidParameter(name, "must be an integer") }
        return value
    }
}

extension ParleyError {
    static func actAsRequired() -> ParleyError {
        ParleyError(.forbidden, code: "auth.act_as_required",
                    message: "This route acts for a user: use a user token, or an API key with the Parley-Act-As header.")
    }

    static func actAsForbidden() -> ParleyError {
        ParleyError(.forbidden, code: "auth.act_as_forbidden",
                    message: "Only an API key may act for another user; a user token acts for its own user.")
    }
}

/// A list answer whose `next_cursor` is `null` on the last page rather than absent.
func pageJSON(_ items: [JSONValue], nextCursor: String?) -> JSONValue {
    .object(["items": .array(items), "next_cursor": nextCursor.map { .string($0) } ?? .null])
}
