import Foundation
import HummingbirdTesting
import Messaging
import Moderation
import Notifications
import ParleyCore
import ParleyRealtime
import ParleyStorage
import ParleyTestSupport
import Testing

/// The WebSocket gateway over real sockets with real WebSocket clients.
@Suite struct GatewayTests {
    /// Opens a connection, says hello (optionally resuming) and returns it with its hello_ok.
    func hello(_ server: LiveServer, _ user: String, device: String, resume: JSONValue? = nil) async throws -> (TestSocket, JSONValue) {
        let socket = try await server.connect(try await server.token(user))
        var frame: [String: JSONValue] = ["type": "hello", "id": 1, "device": .string(device)]
        if let resume { frame["resume"] = resume }
        try socket.send(.object(frame))
        let ok = try await socket.next(type: "hello_ok")
        return (socket, ok)
    }

    func direct(_ server: LiveServer, _ a: String, _ b: String) async throws -> String {
        _ = try await server.token(a)
        _ = try await server.token(b)
        return try await server.services.messaging.openDirect(by: .user(try UserID(validating: a)), user: try UserID(validating: a),
                                                              with: try UserID(validating: b)).0.id
    }

    func sendFrame(_ conversation: String, _ clientID: String, _ text: String, id: Int = 2) -> JSONValue {
        ["type": "send", "id": .int(id), "conversation_id": .string(conversation), "client_msg_id": .string(clientID), "kind": "text",
         "body": ["text": .string(text)]]
    }

    @Test(arguments: TestDatabases.engines)
    func everyDeviceOfBothPeopleGetsEachMessageOnce(engine: DatabaseEngine) async throws {
        try await LiveServer.run(engine) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let (alice1, _) = try await hello(server, "alice", device: "phone")
            let (alice2, _) = try await hello(server, "alice", device: "laptop")
            let (bob1, _) = try await hello(server, "bob", device: "phone")
            let (bob2, _) = try await hello(server, "bob", device: "laptop")
            try alice1.send(sendFrame(conversation, "c1", "hello bob"))
            var skipped: [JSONValue] = []
            let ack = try await alice1.next(type: "ack", skipped: &skipped)
            #expect(ack["id"] == 2)
            #expect(ack["client_msg_id"] == "c1")
            #expect(ack["seq"] == 2)
            #expect(ack["duplicate"] == false)
            try bob2.send(sendFrame(conversation, "b1", "hi alice", id: 7))
            var bobSkipped: [JSONValue] = []
            #expect(try await bob2.next(type: "ack", skipped: &bobSkipped)["seq"] == 3)
            for socket in [alice1, alice2, bob1, bob2] {
                // Frames read while waiting for acks count too; the ping round trip at the end proves no duplicate follows.
                var items: [JSONValue] = socket === alice1 ? skipped : socket === bob2 ? bobSkipped : []
                try await waitForItems(socket, count: 2, into: &items)
                let seqs = items.filter { $0["type"] == "item" }.compactMap { $0["seq"]?.intValue }
                #expect(seqs == [2, 3], "each device gets each item once, in order")
                let texts = items.filter { $0["type"] == "item" }.compactMap { $0["item"]?["body"]?["text"]?.stringValue }
                #expect(texts == ["hello bob", "hi alice"])
            }
            for socket in [alice1, alice2, bob1, bob2] { socket.close() }
        }
    }

    /// Collects item frames until `count` have arrived, then proves no duplicate follows with a ping round trip.
    func waitForItems(_ socket: TestSocket, count: Int, into frames: inout [JSONValue]) async throws {
        while frames.filter({ $0["type"] == "item" }).count < count {
            guard let frame = try await socket.next() else { throw TestDatabaseError("closed") }
            frames.append(frame)
        }
        try socket.send(["type": "ping", "id": 99])
        var skipped: [JSONValue] = []
        _ = try await socket.next(type: "pong", skipped: &skipped)
        frames += skipped
    }

    @Test func aRetriedClientMessageIDStoresOneMessage() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let (alice, _) = try await hello(server, "alice", device: "phone")
            let (bob, _) = try await hello(server, "bob", device: "phone")
            try alice.send(sendFrame(conversation, "same", "once", id: 1))
            let first = try await alice.next(type: "ack")
            try alice.send(sendFrame(conversation, "same", "once", id: 2))
            let second = try await alice.next(type: "ack")
            #expect(first["message_id"] == second["message_id"])
            #expect(first["seq"] == second["seq"])
            #expect(second["duplicate"] == true)
            var frames: [JSONValue] = []
            try await waitForItems(bob, count: 1, into: &frames)
            #expect(frames.filter { $0["type"] == "item" }.count == 1)
            let history = try await server.services.messaging.history(conversation, for: .platform(label: "test"), afterSeq: 0,
                                                                      beforeSeq: nil, limit: 50)
            #expect(history.items.filter { $0.kind == .text }.count == 1)
        }
    }

    /// Pipelined sends are stored together (one transaction per run of sends), but every frame still gets its own
    /// reply, in the order the frames were sent, and refused ones in the middle store nothing.
    @Test(arguments: TestDatabases.engines)
    func pipelinedSendsAreAnsweredInOrderWithRefusalsInPlace(engine: DatabaseEngine) async throws {
        try await LiveServer.run(engine, floodDetection: false) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let elsewhere = try await direct(server, "bob", "carol")
            let (alice, _) = try await hello(server, "alice", device: "phone")
            try alice.send(sendFrame(conversation, "p1", "one", id: 10))
            try alice.send(sendFrame(elsewhere, "p2", "not mine", id: 11))
            alice.sendRaw(#"{"type":"send","id":12,"#)
            try alice.send(sendFrame(conversation, "p4", "two", id: 13))
            try alice.send(["type": "send", "id": 14, "conversation_id": .string(conversation), "body": ["text": "no kind"], "kind": "bogus"])
            try alice.send(sendFrame(conversation, "p6", "three", id: 15))
            var replies: [JSONValue] = []
            while replies.count < 6 {
                guard let frame = try await alice.next() else { break }
                if frame["type"] == "ack" || frame["type"] == "error" { replies.append(frame) }
            }
            #expect(replies.map { $0["type"]?.stringValue ?? "?" } == ["ack", "error", "error", "ack", "error", "ack"])
            #expect(replies.map { $0["id"]?.intValue } == [10, 11, nil, 13, 14, 15])
            #expect(replies[1]["code"] == "messaging.not_member")
            #expect(replies[2]["code"] == "gateway.malformed_frame")
            #expect(replies[4]["code"] == "request.invalid_field")
            let seqs = [replies[0], replies[3], replies[5]].compactMap { $0["seq"]?.intValue }
            #expect(seqs.count == 3 && seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2])
            let history = try await server.services.messaging.history(conversation, for: .platform(label: "test"), afterSeq: 0,
                                                                      beforeSeq: nil, limit: 50)
            #expect(history.items.filter { $0.kind == .text }.map { $0.body["text"]?.stringValue } == ["one", "two", "three"])
            alice.close()
        }
    }

    /// The send limit applies to a run of pipelined sends as to the same sends one by one: the ones past the
    /// allowance are refused in place and store nothing, and a frame refused as invalid uses none of it. On
    /// PostgreSQL the allowance is the cluster's (all of the run is checked in one round trip).
    @Test(arguments: TestDatabases.engines)
    func pipelinedSendsPastTheSendLimitAreRefusedInPlace(engine: DatabaseEngine) async throws {
        var policy = RateLimitPolicy.defaults
        policy.rules[.sendMessage] = [.user: RateLimit(count: 3, per: 3600, burst: 3)]
        try await LiveServer.run(engine, floodDetection: false, rateLimitPolicy: policy) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let (alice, _) = try await hello(server, "alice", device: "phone")
            try alice.send(sendFrame(conversation, "q1", "one", id: 20))
            try alice.send(sendFrame(conversation, "q2", "two", id: 21))
            try alice.send(sendFrame(conversation, "q3", "", id: 22))  // an empty text: invalid
            try alice.send(sendFrame(conversation, "q4", "three", id: 23))
            try alice.send(sendFrame(conversation, "q5", "four", id: 24))
            try alice.send(sendFrame(conversation, "q6", "five", id: 25))
            var replies: [JSONValue] = []
            while replies.count < 6 {
                guard let frame = try await alice.next() else { break }
                if frame["type"] == "ack" || frame["type"] == "error" { replies.append(frame) }
            }
            #expect(replies.map { $0["id"]?.intValue } == [20, 21, 22, 23, 24, 25])
            #expect(replies.map { $0["type"]?.stringValue ?? "?" } == ["ack", "ack", "error", "ack", "error", "error"])
            #expect(replies[2]["code"] == "messaging.invalid_body")
            #expect(replies[4]["code"] == "moderation.rate_limited" && replies[5]["code"] == "moderation.rate_limited")
            #expect((replies[4]["retry_after"]?.intValue ?? 0) > 0)
            let history = try await server.services.messaging.history(conversation, for: .platform(label: "test"), afterSeq: 0,
                                                                      beforeSeq: nil, limit: 50)
            #expect(history.items.filter { $0.kind == .text }.map { $0.body["text"]?.stringValue } == ["one", "two", "three"])
            alice.close()
        }
    }

    @Test(arguments: TestDatabases.engines)
    func resumingAfterMissingFiftyMessagesDeliversExactlyThoseFiftyInOrder(engine: DatabaseEngine) async throws {
        try await LiveServer.run(engine, floodDetection: false) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let (bob, ok) = try await hello(server, "bob", device: "phone")
            let token = try #require(ok["token"])
            bob.close()
            let alice = try UserID(validating: "alice")
            for index in 1...50 {
                _ = try await server.services.messaging.send(
                    try MessageDraft(conversationID: conversation, clientMsgID: "m\(index)", kind: .text, body: ["text": .string("n\(index)")]),
                    by: .user(alice)
                )
            }
            let (back, resumed) = try await hello(server, "bob", device: "phone", resume: token)
            #expect(resumed["resumed"] == true)
            #expect(resumed["missed"] == 50)
            var frames: [JSONValue] = []
            try await waitForItems(back, count: 50, into: &frames)
            let items = frames.filter { $0["type"] == "item" }
            #expect(items.count == 50)
            #expect(items.compactMap { $0["seq"]?.intValue } == Array(2...51))
            #expect(items.compactMap { $0["item"]?["body"]?["text"]?.stringValue } == (1...50).map { "n\($0)" })
            let userSeqs = items.compactMap { $0["user_seq"]?.intValue }
            #expect(userSeqs == userSeqs.sorted() && Set(userSeqs).count == 50)
            #expect(resumed["token"]?["user_seq"]?.intValue == userSeqs.last)
            // Live again: the next message arrives once, after the missed ones.
            _ = try await server.services.messaging.send(
                try MessageDraft(conversationID: conversation, clientMsgID: "live", kind: .text, body: ["text": "live"]), by: .user(alice))
            var more: [JSONValue] = []
            try await waitForItems(back, count: 1, into: &more)
            #expect(more.filter { $0["type"] == "item" }.compactMap { $0["seq"]?.intValue } == [52])
            back.close()
        }
    }

    @Test func helloIsRecordedAsAConnectionEvent() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let (socket, _) = try await hello(server, "alice", device: "tablet")
            let events = try await server.services.events.read(after: 0, limit: 100, types: ["user.connected"])
            #expect(events.count == 1)
            #expect(events.first?.payload["user_id"] == "alice")
            #expect(events.first?.payload["device"] == "tablet")
            socket.close()
        }
    }

    @Test func aTriggeredNotificationIsPushedToTheRecipientsConnections() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let (socket, _) = try await hello(server, "alice", device: "phone")
            _ = try await server.services.notifications.putTemplate(key: "welcome", channel: .inApp, locale: "en",
                                                                    fields: ["title": "Hi {{name}}", "body": "Welcome aboard"])
            _ = try await server.services.notifications.trigger(
                TriggerRequest(templateKey: "welcome", recipients: .users([try UserID(validating: "alice")]), data: ["name": "Alice"]),
                actor: "key:test"
            )
            let frame = try await socket.next(type: "notification")
            #expect(frame["notification"]?["title"] == "Hi Alice")
            socket.close()
        }
    }

    @Test func aResumeTokenFromAnotherEpochGetsResyncRequired() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let (bob, _) = try await hello(server, "bob", device: "phone", resume: ["epoch": "not-this-one", "user_seq": 3])
            let resync = try await bob.next(type: "resync_required")
            #expect(resync["last_seqs"]?[conversation] == 1)
            #expect(resync["token"]?["epoch"]?.stringValue?.isEmpty == false)
            bob.close()
        }
    }

    @Test func nonMembersCanNeitherSendNorReadNorSignalTyping() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let (carol, _) = try await hello(server, "carol", device: "phone")
            try carol.send(sendFrame(conversation, "x", "let me in", id: 5))
            let sendError = try await carol.next(type: "error")
            #expect(sendError["id"] == 5)
            #expect(sendError["code"] == "messaging.not_member")
            try carol.send(["type": "history", "id": 6, "conversation_id": .string(conversation)])
            #expect(try await carol.next(type: "error")["code"] == "messaging.not_member")
            try carol.send(["type": "typing", "id": 7, "conversation_id": .string(conversation)])
            #expect(try await carol.next(type: "error")["code"] == "messaging.not_member")
            try carol.send(["type": "read", "id": 8, "conversation_id": .string(conversation), "seq": 1])
            #expect(try await carol.next(type: "error")["code"] == "messaging.not_member")
            carol.close()
        }
    }

    @Test func aMutedMemberCannotSend() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            _ = try await server.token("owner")
            _ = try await server.token("bob")
            let owner = try UserID(validating: "owner"), bob = try UserID(validating: "bob")
            let group = try await server.services.messaging.createGroup(by: .user(owner), owner: owner, type: .group, name: "G",
                                                                        avatarURL: nil, description: "", members: [bob])
            _ = try await server.services.messaging.muteMember(group.id, user: bob, seconds: 600, by: .user(owner))
            let (socket, _) = try await hello(server, "bob", device: "phone")
            try socket.send(sendFrame(group.id, "m", "can I talk?", id: 3))
            let error = try await socket.next(type: "error")
            #expect(error["code"] == "messaging.member_muted")
            #expect(error["details"]?["muted_until"]?.stringValue != nil)
            socket.close()
        }
    }

    @Test func malformedUnknownEarlyAndOversizedFramesGetErrorsAndTheServerStaysUp() async throws {
        try await LiveServer.run(.sqlite) { server, client in
            let socket = try await server.connect(try await server.token("alice"))
            try socket.send(["type": "send", "id": 1, "conversation_id": "c_x", "body": ["text": "x"]])
            #expect(try await socket.next(type: "error")["code"] == "gateway.hello_required")
            socket.sendRaw("this is not json")
            #expect(try await socket.next(type: "error")["code"] == "gateway.malformed_frame")
            socket.sendRaw(#"{"no_type": true}"#)
            #expect(try await socket.next(type: "error")["code"] == "gateway.malformed_frame")
            try socket.send(["type": "hello", "id": 2])
            _ = try await socket.next(type: "hello_ok")
            try socket.send(["type": "launch_rockets", "id": 3])
            let unknown = try await socket.next(type: "error")
            #expect(unknown["code"] == "gateway.unknown_type")
            #expect(unknown["id"] == 3)
            try socket.send(["type": "hello", "id": 4])
            #expect(try await socket.next(type: "error")["code"] == "gateway.already_hello")
            try socket.send(["type": "send", "id": 5, "conversation_id": "c_x", "kind": "text", "body": ["text": "x"], "extra": 1])
            #expect(try await socket.next(type: "error")["code"] == "request.unknown_field")
            try socket.send(["type": "send", "id": 6, "conversation_id": "c_missing", "kind": "text", "body": ["text": "x"]])
            #expect(try await socket.next(type: "error")["code"] == "messaging.conversation_not_found")
            // A frame over the 64 KiB limit closes the connection.
            socket.sendRaw(#"{"type":"ping","pad":""# + String(repeating: "x", count: 70_000) + #""}"#)
            var closed = false
            while let _ = try await socket.next() {}
            closed = socket.closed.withLock { $0 }
            #expect(closed)
            // The server is still up for everyone else.
            let health = try await client.execute(uri: "/healthz", method: .get) { $0.status }
            #expect(health == .ok)
            let (again, _) = try await hello(server, "alice", device: "other")
            try again.send(["type": "ping", "id": 1])
            #expect(try await again.next(type: "pong")["id"] == 1)
            again.close()
        }
    }

    @Test func theUpgradeIsRefusedWithoutAUserToken() async throws {
        try await LiveServer.run(.sqlite) { server, client in
            // A refused credential is told why in one error frame, then the connection closes (no session).
            for (credential, code) in [("not-a-token", "auth.invalid_token"), (server.serverKey, "auth.user_token_required")] {
                let refused = try await server.connect(credential)
                let error = try await refused.next(type: "error")
                #expect(error["code"]?.stringValue == code, "\(error)")
                #expect(try await refused.next(within: 15) == nil)
                #expect(server.live.connectionCount == 0)
            }
            let token = try await server.token("alice")
            let viaQuery = try await server.connect(token, viaQuery: true)
            try viaQuery.send(["type": "hello"])
            #expect(try await viaQuery.next(type: "hello_ok")["user_id"] == "alice")
            viaQuery.close()
            let plain = try await client.execute(uri: "/v1/ws", method: .get) { $0.status }
            #expect(plain == .badRequest)
        }
    }

    @Test func typingAndPresenceReachOtherMembersLive() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let (alice, _) = try await hello(server, "alice", device: "phone")
            try alice.send(["type": "presence.sub", "id": 1, "users": ["bob"]])
            let initial = try await alice.next(type: "presence")
            #expect(initial["user_id"] == "bob")
            #expect(initial["online"] == false)
            let (bob, _) = try await hello(server, "bob", device: "phone")
            let online = try await alice.next(type: "presence")
            #expect(online["online"] == true)
            try bob.send(["type": "typing", "conversation_id": .string(conversation), "state": "start"])
            let typing = try await alice.next(type: "typing")
            #expect(typing["user_id"] == "bob")
            #expect(typing["conversation_id"] == .string(conversation))
            bob.close()
            let offline = try await alice.next(type: "presence")
            #expect(offline["online"] == false)
            #expect(offline["last_seen"]?.stringValue != nil)
            alice.close()
        }
    }

    @Test func readsUpdateTheOtherDevicesAndThePeersReceipt() async throws {
        try await LiveServer.run(.sqlite) { server, _ in
            let conversation = try await direct(server, "alice", "bob")
            let (alice, _) = try await hello(server, "alice", device: "phone")
            let (bob1, _) = try await hello(server, "bob", device: "phone")
            let (bob2, _) = try await hello(server, "bob", device: "laptop")
            try alice.send(sendFrame(conversation, "c1", "read me"))
            _ = try await alice.next(type: "ack")
            _ = try await bob1.next(type: "item")
            try bob1.send(["type": "read", "id": 4, "conversation_id": .string(conversation), "seq": 2])
            let ack = try await bob1.next(type: "ack")
            #expect(ack["read_seq"] == 2)
            #expect(ack["unread_count"] == 0)
            let feed = try await bob2.next(type: "feed")
            #expect(feed["kind"] == "read")
            #expect(feed["seq"] == 2)
            #expect(try await bob2.next(type: "badge")["badge"] == 0)
            let receipt = try await alice.next(type: "receipt")
            #expect(receipt["user_id"] == "bob")
            #expect(receipt["read_seq"] == 2)
            for socket in [alice, bob1, bob2] { socket.close() }
        }
    }
}
