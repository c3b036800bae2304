import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyCore
import ParleyHTTP
import ParleyStorage
import ParleyTestSupport
import Testing

/// The chat REST API over the real router: the main flows on every engine, and the ways a request can be wrong.
@Suite struct MessagingAPITests {
    static func text(_ clientMsgID: String, _ text: String) -> JSONValue {
        ["client_msg_id": .string(clientMsgID), "kind": "text", "body": ["text": .string(text)]]
    }

    @Test(arguments: TestDatabases.engines)
    func twoPeopleChatReadAndCatchUpOverREST(engine: DatabaseEngine) async throws {
        try await TestApp.run(engine) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            let opened = try await client.json(.post, "/v1/conversations", bearer: alice, body: ["type": "direct", "members": ["bob"]])
            #expect(opened.status == .created)
            let id = try #require(opened.body["id"]?.stringValue)
            #expect(opened.body["peer"] == "bob" && opened.body["type"] == "direct")
            let reopened = try await client.json(.post, "/v1/conversations", bearer: bob,
                                                 body: ["type": "direct", "members": ["alice", "bob"]])
            #expect(reopened.status == .ok && reopened.body["id"]?.stringValue == id)
            let syncStart = try await client.json(.get, "/v1/sync", bearer: bob)
            #expect(syncStart.body["resync_required"] == false && syncStart.body["entries"] == [])
            let token = try #require(syncStart.body["token"])

            let sent = try await client.json(.post, "/v1/conversations/\(id)/messages", bearer: alice, body: Self.text("c1", "hi bob"))
            #expect(sent.status == .created)
            #expect(sent.body["seq"] == 2 && sent.body["client_msg_id"] == "c1" && sent.body["duplicate"] == false)
            #expect(sent.body["conversation_id"]?.stringValue == id && sent.body["ts"]?.stringValue != nil)
            let retry = try await client.json(.post, "/v1/conversations/\(id)/messages", bearer: alice, body: Self.text("c1", "hi bob"))
            #expect(retry.status == .ok && retry.body["duplicate"] == true && retry.body["message_id"] == sent.body["message_id"])
            let messageID = try #require(sent.body["message_id"]?.stringValue)

            let list = try await client.json(.get, "/v1/conversations", bearer: bob)
            #expect(list.body["next_cursor"] == .null)
            let summary = try #require(list.body["items"]?.arrayValue?.first)
            #expect(summary["unread_count"] == 1 && summary["last_seq"] == 2 && summary["muted"] == false && summary["pinned"] == false)
            #expect(summary["last_message"]?["body"]?["text"] == "hi bob")
            #expect(try await client.json(.get, "/v1/badge", bearer: bob).body["badge"] == 1)

            let history = try await client.json(.get, "/v1/conversations/\(id)/messages?after_seq=0&limit=10", bearer: bob)
            #expect(history.body["has_more"] == false)
            #expect(history.body["items"]?.arrayValue?.map { $0["kind"] } == ["conversation_created", "text"])

            let receiptsBefore = try await client.json(.get, "/v1/conversations/\(id)/receipts?seq=2", bearer: alice)
            #expect(receiptsBefore.body == ["seq": 2, "read_by": [], "read_count": 0, "of": 1])
            let read = try await client.json(.post, "/v1/conversations/\(id)/read", bearer: bob, body: ["seq": 2])
            #expect(read.body == ["conversation_id": .string(id), "read_seq": 2, "unread_count": 0, "badge": 0])
            let receipts = try await client.json(.get, "/v1/conversations/\(id)/receipts?seq=2", bearer: alice)
            #expect(receipts.body["read_by"] == ["bob"] && receipts.body["read_count"] == 1 && receipts.body["of"] == 1)

            let message = "/v1/conversations/\(id)/messages/\(messageID)"
            let edited = try await client.json(.patch, message, bearer: alice, body: ["body": ["text": "hi Bob"]])
            #expect(edited.status == .ok && edited.body["kind"] == "edit" && edited.body["target_id"]?.stringValue == messageID)
            let thumbs = "%F0%9F%91%8D"
            let reacted = try await client.json(.put, "\(message)/reactions/\(thumbs)", bearer: bob)
            #expect(reacted.body["changed"] == true && reacted.body["item"]?["body"]?["emoji"] == "👍")
            #expect(try await client.json(.put, "\(message)/reactions/\(thumbs)", bearer: bob).body == ["changed": false, "item": .null])
            let pinned = try await client.json(.post, "\(message)/pin", bearer: bob)
            #expect(pinned.body["kind"] == "pin")
            let afterReactions = try await client.json(.get, "/v1/conversations/\(id)/messages?after_seq=1&limit=1", bearer: alice)
            #expect(afterReactions.body["items"]?.arrayValue?.first?["reactions"] == ["👍": ["bob"]])
            #expect(afterReactions.body["has_more"] == true)
            #expect(try await client.json(.delete, "\(message)/reactions/\(thumbs)", bearer: bob).body["changed"] == true)
            #expect(try await client.json(.post, "\(message)/unpin", bearer: alice).body["kind"] == "unpin")

            let deleted = try await client.json(.delete, message, bearer: bob)
            #expect(deleted.status == .noContent)
            let bobsView = try await client.json(.get, "/v1/conversations/\(id)/messages", bearer: bob)
            #expect(bobsView.body["items"]?.arrayValue?.contains { $0["id"]?.stringValue == messageID } == false)
            let recalled = try await client.json(.post, "\(message)/recall", bearer: alice)
            #expect(recalled.body["kind"] == "recall")

            let epoch = try #require(token["epoch"]?.stringValue)
            let userSeq = try #require(token["user_seq"]?.intValue)
            let sync = try await client.json(.get, "/v1/sync?epoch=\(epoch)&user_seq=\(userSeq)", bearer: bob)
            #expect(sync.body["resync_required"] == false)
            let entries = try #require(sync.body["entries"]?.arrayValue)
            // The first missed entry is the message, as it is now: recalled, its content erased.
            #expect(entries.first?["kind"] == "item" && entries.first?["seq"] == 2 && entries.first?["item"]?["recalled"] == true)
            let kinds = entries.compactMap { $0["kind"]?.stringValue }
            #expect(kinds.contains("read"))
            #expect(sync.body["token"]?["user_seq"]?.intValue == userSeq + entries.count)
            let stale = try await client.json(.get, "/v1/sync?epoch=e_other&user_seq=0", bearer: bob)
            #expect(stale.body["resync_required"] == true && stale.body["last_seqs"]?[id] != nil)
        }
    }

    @Test func aGroupIsAdministeredThroughItsMemberRoutes() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let bob = try await app.userToken("bob", client: client)
            let carol = try await app.userToken("carol", client: client)
            let created = try await client.json(.post, "/v1/conversations", bearer: alice,
                                                body: ["type": "group", "name": "Team", "description": "us", "members": ["bob"]])
            #expect(created.status == .created && created.body["role"] == "owner" && created.body["member_count"] == 2)
            let id = try #require(created.body["id"]?.stringValue)
            let base = "/v1/conversations/\(id)"
            #expect(try await client.json(.get, base, bearer: carol).errorCode == "messaging.not_member")
            let added = try await client.json(.post, "\(base)/members", bearer: alice, body: ["members": ["carol"]])
            #expect(added.body["kind"] == "member_added")
            let members = try await client.json(.get, "\(base)/members", bearer: carol)
            #expect(members.body["items"]?.arrayValue?.map { $0["user_id"] } == ["alice", "bob", "carol"])
            let promoted = try await client.json(.put, "\(base)/members/bob/role", bearer: alice, body: ["role": "admin"])
            #expect(promoted.body["kind"] == "role_changed")
            let muted = try await client.json(.post, "\(base)/members/carol/mute", bearer: bob, body: ["duration_seconds": 600])
            #expect(muted.body["kind"] == "member_muted")
            let silenced = try await client.json(.post, "\(base)/messages", bearer: carol, body: Self.text("c1", "hey"))
            #expect(silenced.status == .forbidden && silenced.errorCode == "messaging.member_muted")
            #expect(try await client.json(.delete, "\(base)/members/alice", bearer: bob).errorCode == "messaging.insufficient_role")
            let renamed = try await client.json(.patch, base, bearer: bob, body: ["name": "Team 2", "avatar_url": .null])
            #expect(renamed.body["name"] == "Team 2" && renamed.body["avatar_url"] == .null)
            let settings = try await client.json(.put, "\(base)/settings", bearer: carol, body: ["muted": true, "pinned": true])
            #expect(settings.body["muted"] == true && settings.body["pinned"] == true)
            #expect(try await client.json(.post, "\(base)/leave", bearer: alice).errorCode == "messaging.owner_must_transfer")
            let transferred = try await client.json(.post, "\(base)/transfer", bearer: alice, body: ["user_id": "bob"])
            #expect(transferred.body["kind"] == "owner_transferred")
            #expect(try await client.json(.post, "\(base)/leave", bearer: alice).body["kind"] == "member_left")
            #expect(try await client.json(.delete, "\(base)/members/carol", bearer: bob).body["kind"] == "member_removed")
            #expect(try await client.json(.post, "\(base)/dissolve", bearer: bob).body["kind"] == "conversation_dissolved")
            let late = try await client.json(.post, "\(base)/messages", bearer: bob, body: Self.text("c2", "anyone?"))
            #expect(late.status == .conflict && late.errorCode == "messaging.conversation_dissolved")
        }
    }

    /// A server key acts for the user named by `Parley-Act-As`, or as the platform without it. A user token
    /// carrying the header is refused rather than ignored: it can only be a client bug or an attempt to impersonate.
    @Test func aServerKeyActsForAUserOrAsThePlatform() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let alice = try await app.userToken("alice", client: client)
            _ = try await app.userToken("bob", client: client)
            let actAs = ConversationsController.actAsHeader
            let asAlice: HTTPFields = [actAs: "alice"]
            let group = try await client.json(.post, "/v1/conversations", bearer: app.serverKey,
                                              body: ["type": "group", "name": "Support", "owner": "alice", "members": ["bob"]])
            #expect(group.status == .created && group.body["created_by"] == "system" && group.body["unread_count"] == nil)
            let id = try #require(group.body["id"]?.stringValue)
            let system = try await client.json(.post, "/v1/conversations/\(id)/messages", bearer: app.serverKey,
                                               body: ["client_msg_id": "s1", "kind": "system", "body": ["text": "Welcome"]])
            #expect(system.status == .created)
            let relayed = try await client.json(.post, "/v1/conversations/\(id)/messages", bearer: app.serverKey,
                                                body: Self.text("r1", "from alice's phone via the backend"), headers: asAlice)
            #expect(relayed.status == .created)
            let history = try await client.json(.get, "/v1/conversations/\(id)/messages", bearer: app.serverKey)
            #expect(history.body["items"]?.arrayValue?.map { $0["sender_id"] } == ["system", "system", "alice"])
            let bobsBadge = try await client.json(.get, "/v1/badge", bearer: app.serverKey, headers: [actAs: "bob"])
            #expect(bobsBadge.body["badge"] == 2)
            let userSystem = try await client.json(.post, "/v1/conversations/\(id)/messages", bearer: alice,
                                                   body: ["client_msg_id": "s2", "kind": "system", "body": ["text": "I am the system"]])
            #expect(userSystem.errorCode == "request.invalid_field")

            let cases: [(HTTPRequest.Method, String, String, HTTPFields, JSONValue?, HTTPResponse.Status, String)] = [
                (.get, "/v1/conversations", app.serverKey, [:], nil, .forbidden, "auth.act_as_required"),
                (.get, "/v1/badge", app.serverKey, [:], nil, .forbidden, "auth.act_as_required"),
                (.post, "/v1/conversations", app.serverKey, [:], ["type": "group", "name": "x", "members": ["bob"]], .badRequest,
                 "request.missing_field"),
                (.get, "/v1/badge", app.serverKey, [actAs: "ghost"], nil, .notFound, "identity.user_not_found"),
                (.get, "/v1/badge", app.serverKey, [actAs: "bad id"], nil, .badRequest, "identity.invalid_user_id"),
                (.get, "/v1/badge", alice, [actAs: "bob"], nil, .forbidden, "auth.act_as_forbidden"),
                (.get, "/v1/badge", alice, [actAs: "alice"], nil, .forbidden, "auth.act_as_forbidden"),
                (.get, "/v1/badge", "", [:], nil, .unauthorized, "auth.missing_credentials"),
            ]
            for (method, uri, bearer, headers, body, status, code) in cases {
                let response = try await client.json(method, uri, bearer: bearer.isEmpty ? nil : bearer, body: body, headers: headers)
                #expect(response.status == status && response.errorCode == code, "\(method) \(uri) \(headers): \(response.body)")
            }
            _ = try await client.json(.post, "/v1/users/bob/deactivate", bearer: app.serverKey)
            let deactivated = try await client.json(.get, "/v1/badge", bearer: app.serverKey, headers: [actAs: "bob"])
            #expect(deactivated.status == .conflict && deactivated.errorCode == "identity.user_deactivated")
        }
    }

    @Test func badInputsGetAFourHundredWithAStableCodeAndNeverAFiveHundred() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let alice = try await app.userToken("alice", client: client)
            let eve = try await app.userToken("eve", client: client)
            _ = try await app.userToken("bob", client: client)
            let group = try await client.json(.post, "/v1/conversations", bearer: alice,
                                              body: ["type": "group", "name": "G", "members": ["bob"]])
            let id = try #require(group.body["id"]?.stringValue)
            let sent = try await client.json(.post, "/v1/conversations/\(id)/messages", bearer: alice, body: Self.text("c1", "hello"))
            let messageID = try #require(sent.body["message_id"]?.stringValue)
            let base = "/v1/conversations/\(id)"
            let cases: [(HTTPRequest.Method, String, String?, String?, HTTPResponse.Status, String)] = [
                (.post, "\(base)/messages", alice, #"{"client_msg_id":"x","kind":"text","body":{"text":"a"},"colour":"red"}"#,
                 .badRequest, "request.unknown_field"),
                (.post, "\(base)/messages", alice, #"{"client_msg_id":"x","kind":"sticker","body":{}}"#, .badRequest,
                 "request.invalid_field"),
                (.post, "\(base)/messages", alice, #"{"client_msg_id":"x","kind":"edit","body":{}}"#, .badRequest, "request.invalid_field"),
                (.post, "\(base)/messages", alice, #"{"kind":"text","body":{"text":"a"}}"#, .badRequest, "request.missing_field"),
                (.post, "\(base)/messages", alice, #"{"client_msg_id":"x","kind":"text","body":{"txt":"a"}}"#, .badRequest,
                 "messaging.invalid_body"),
                (.post, "\(base)/messages", alice, #"{"client_msg_id":"x","kind":"text","body":{"text":"a"},"reply_to":"m_nope"}"#,
                 .notFound, "messaging.message_not_found"),
                (.post, "\(base)/messages", alice, #"{"client_msg_id":"x","kind":"text","body":"#, .badRequest, "request.malformed_json"),
                (.post, "\(base)/messages", eve, #"{"client_msg_id":"x","kind":"text","body":{"text":"a"}}"#, .forbidden,
                 "messaging.not_member"),
                (.get, "\(base)/messages", eve, nil, .forbidden, "messaging.not_member"),
                (.get, "\(base)/messages?after_seq=two", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "\(base)/messages?limit=0", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "\(base)/messages?limit=500", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "\(base)/messages?before_seq=0", alice, nil, .badRequest, "request.invalid_parameter"),
                (.post, "\(base)/read", alice, #"{"seq":-1}"#, .badRequest, "messaging.invalid_seq"),
                (.post, "\(base)/read", alice, #"{"seq":"one"}"#, .badRequest, "request.invalid_field"),
                (.get, "\(base)/receipts", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "\(base)/receipts?seq=x", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "\(base)/receipts?seq=999", alice, nil, .badRequest, "messaging.invalid_seq"),
                (.get, "/v1/sync?epoch=e1", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "/v1/sync?user_seq=3", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "/v1/sync?epoch=e1&user_seq=-1", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "/v1/conversations?cursor=%25%25", alice, nil, .badRequest, "request.invalid_cursor"),
                (.get, "/v1/conversations?limit=x", alice, nil, .badRequest, "request.invalid_parameter"),
                (.get, "/v1/conversations/c_nope", alice, nil, .notFound, "messaging.conversation_not_found"),
                (.post, "/v1/conversations/c_nope/messages", alice, #"{"client_msg_id":"x","kind":"text","body":{"text":"a"}}"#,
                 .notFound, "messaging.conversation_not_found"),
                (.post, "\(base)/messages/m_nope/recall", alice, nil, .notFound, "messaging.message_not_found"),
                (.patch, "\(base)/messages/\(messageID)", eve, #"{"body":{"text":"b"}}"#, .forbidden, "messaging.not_member"),
                (.put, "\(base)/messages/\(messageID)/reactions/a%20b", alice, nil, .badRequest, "request.invalid_field"),
                (.put, "\(base)/messages/\(messageID)/reactions/%E0%A4%A", alice, nil, .badRequest, "request.invalid_parameter"),
                (.post, "/v1/conversations", alice, #"{"type":"channel","members":["bob"]}"#, .badRequest, "request.invalid_field"),
                (.post, "/v1/conversations", alice, #"{"type":"direct","members":["bob","eve"]}"#, .badRequest, "request.invalid_field"),
                (.post, "/v1/conversations", alice, #"{"type":"direct","members":["alice"]}"#, .unprocessableContent,
                 "messaging.cannot_message_self"),
                (.post, "/v1/conversations", alice, #"{"type":"direct","members":["ghost"]}"#, .notFound, "identity.user_not_found"),
                (.post, "/v1/conversations", alice, #"{"type":"direct","members":["b c"]}"#, .badRequest, "identity.invalid_user_id"),
                (.post, "/v1/conversations", alice, #"{"type":"group","members":[]}"#, .badRequest, "request.missing_field"),
                (.post, "/v1/conversations", alice, #"{"type":"group","name":"x","owner":"bob","members":[]}"#, .badRequest,
                 "request.invalid_field"),
                (.patch, base, alice, "{}", .badRequest, "request.invalid_field"),
                (.patch, base, alice, #"{"avatar_url":"javascript:x"}"#, .badRequest, "request.invalid_field"),
                (.put, "\(base)/members/bob/role", alice, #"{"role":"owner"}"#, .badRequest, "request.invalid_field"),
                (.put, "\(base)/members/bob/role", alice, #"{"role":"boss"}"#, .badRequest, "request.invalid_field"),
                (.post, "\(base)/members/bob/mute", alice, #"{"duration_seconds":-5}"#, .badRequest, "request.invalid_field"),
                (.post, "\(base)/members/bob/mute", alice, #"{"duration_seconds":"soon"}"#, .badRequest, "request.invalid_field"),
                (.post, "\(base)/transfer", alice, #"{"user_id":"no/pe"}"#, .badRequest, "identity.invalid_user_id"),
                (.delete, "\(base)/members/eve", alice, nil, .notFound, "messaging.member_not_found"),
                (.post, "\(base)/members", alice, #"{"members":[]}"#, .badRequest, "request.invalid_field"),
                (.put, "\(base)/settings", alice, #"{"muted":"yes"}"#, .badRequest, "request.invalid_field"),
            ]
            for (method, uri, bearer, body, status, code) in cases {
                let response = try await client.json(method, uri, bearer: bearer, rawBody: body)
                #expect(response.status == status && response.errorCode == code, "\(method) \(uri) \(body ?? ""): \(response.body)")
            }
        }
    }
}

extension JSONValue {
    var arrayValue: [JSONValue]? {
        if case .array(let values) = self { return values }
        return nil
    }
}
