import Foundation
import Hummingbird
import Messaging
import ParleyCore

/// Read positions, receipts, the badge, and the per-user feed over REST (for clients without a WebSocket,
/// and for a WebSocket client catching up before it goes live).
extension ConversationsController {
    struct ReadBody: RequestBody {
        static let fields: Set<String> = ["seq"]
        let seq: Int64
    }

    func registerReadRoutes(on routes: RouteTable) {
        routes.add(.post, "/v1/conversations/{conversation_id}/read", policy: .userOrServer) { request, context in
            let body = try await request.decodeBody(ReadBody.self, context: context)
            let user = try await actingUser(request, context)
            let state = try await messaging.markRead(try context.conversationID, upTo: body.seq, by: user)
            return try JSONBody.response(MessagingWire.readState(state))
        }
        routes.add(.get, "/v1/conversations/{conversation_id}/receipts", policy: .userOrServer) { request, context in
            guard let seq = try request.integerQuery("seq") else { throw ParleyError.invalidParameter("seq", "is required") }
            let readers = try await messaging.readers(try context.conversationID, seq: seq, for: try await actor(request, context))
            return try JSONBody.response(JSONValue.object([
                "seq": .int(Int(readers.seq)),
                "read_by": .array(readers.readBy.map { .string($0.rawValue) }),
                "read_count": .int(readers.readBy.count),
                "of": .int(readers.of),
            ]))
        }
        routes.add(.get, "/v1/badge", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            return try JSONBody.response(JSONValue.object(["badge": .int(try await messaging.badge(for: user))]))
        }
        routes.add(.get, "/v1/sync", policy: .userOrServer) { request, context in
            let user = try await actingUser(request, context)
            let epoch = request.uri.queryParameters.get("epoch").flatMap { $0.isEmpty ? nil : $0 }
            let userSeq = try request.integerQuery("user_seq")
            var token: MessagingService.ResumeToken?
            switch (epoch, userSeq) {
            case (nil, nil):
                token = nil
            case (let epoch?, let userSeq?):
                guard userSeq >= 0 else { throw ParleyError.invalidParameter("user_seq", "must not be negative") }
                token = MessagingService.ResumeToken(epoch: epoch, userSeq: userSeq)
            case (nil, _):
                throw ParleyError.invalidParameter("epoch", "is required with user_seq")
            case (_, nil):
                throw ParleyError.invalidParameter("user_seq", "is required with epoch")
            }
            return try JSONBody.response(Self.syncJSON(try await messaging.resume(user, from: token)))
        }
    }

    /// The sync answer: the missed entries and the token after them, or the per-conversation last seqs to pull from.
    static func syncJSON(_ resume: MessagingService.Resume) -> JSONValue {
        switch resume {
        case .delta(let entries, let token):
            return .object([
                "entries": .array(entries.map { entry in
                    .object([
                        "user_seq": .int(Int(entry.userSeq)),
                        "conversation_id": .string(entry.conversationID),
                        "seq": .int(Int(entry.seq)),
                        "kind": .string(entry.kind),
                        "item": entry.item.map(MessagingWire.item) ?? .null,
                    ])
                }),
                "token": MessagingWire.token(token),
                "resync_required": false,
            ])
        case .resyncRequired(let lastSeqs, let token):
            return .object([
                "resync_required": true,
                "last_seqs": .object(lastSeqs.mapValues { .int(Int($0)) }),
                "token": MessagingWire.token(token),
            ])
        }
    }
}
