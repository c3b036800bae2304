import _CryptoExtras
import Foundation
import Notifications
import ParleyCore
import Synchronization

/// Google's side of FCM for tests: an OAuth token endpoint that checks the service account's RS256
/// assertion, and the `messages:send` endpoint that checks the bearer token and answers by device token.
final class FakeGoogle: Sendable {
    static let projectID = "parley-test"
    static let clientEmail = "parley-push@parley-test.iam.gserviceaccount.com"
    static let scope = "https://www.googleapis.com/auth/firebase.messaging"

    struct State {
        /// Where the token endpoint is, once the stub listens (the assertion's expected `aud`).
        var tokenURI = ""
        var issued: [String] = []
        var revoked: Set<String> = []
        /// Problems found in requests: a test fails when there are any.
        var problems: [String] = []
        var messages: [JSONValue] = []
    }

    let publicKey: _RSA.Signing.PublicKey
    let clock: ManualWallClock
    let state = Mutex(State())

    init(publicKey: _RSA.Signing.PublicKey, clock: ManualWallClock) {
        self.publicKey = publicKey
        self.clock = clock
    }

    var problems: [String] { state.withLock { $0.problems } }
    var issued: [String] { state.withLock { $0.issued } }
    var messages: [JSONValue] { state.withLock { $0.messages } }

    /// Makes every token issued so far unusable, as when Google revokes them early.
    func revokeAll() {
        state.withLock { $0.revoked.formUnion($0.issued) }
    }

    func handle(_ request: PushServiceStub.Received) -> PushServiceStub.Reply {
        if request.path == "/token" { return token(request) }
        if request.path == "/v1/projects/\(Self.projectID)/messages:send" { return send(request) }
        return problem("unexpected request to \(request.path)", status: 404)
    }

    private func problem(_ text: String, status: Int = 400) -> PushServiceStub.Reply {
        state.withLock { $0.problems.append(text) }
        return .init(status: status, body: #"{"error":"invalid_request","error_description":"\#(text)"}"#)
    }

    private func token(_ request: PushServiceStub.Received) -> PushServiceStub.Reply {
        guard request[header: "content-type"] == "application/x-www-form-urlencoded" else { return problem("not a form") }
        var form: [String: String] = [:]
        for pair in String(decoding: request.body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        guard form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" else { return problem("wrong grant_type") }
        guard let assertion = form["assertion"], let jwt = try? TestJWT(assertion) else { return problem("no assertion") }
        guard jwt.isSigned(by: publicKey) else {
            return .init(status: 400, body: #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#)
        }
        let now = Int(clock.now().timeIntervalSince1970)
        let tokenURI = state.withLock { $0.tokenURI }
        let expected: [String: JSONValue] = [
            "iss": .string(Self.clientEmail), "scope": .string(Self.scope), "aud": .string(tokenURI),
            "iat": .int(now), "exp": .int(now + 3600),
        ]
        guard jwt.claims == expected else { return problem("unexpected claims \(jwt.claims), wanted \(expected)") }
        guard jwt.header["typ"] == "JWT", jwt.header["kid"] == "key-1" else { return problem("unexpected header \(jwt.header)") }
        let token = state.withLock { state in
            let token = "ya29.test-\(state.issued.count + 1)"
            state.issued.append(token)
            return token
        }
        return .init(status: 200, body: #"{"access_token":"\#(token)","expires_in":3599,"token_type":"Bearer"}"#)
    }

    private func send(_ request: PushServiceStub.Received) -> PushServiceStub.Reply {
        let bearer = request[header: "authorization"].map { String($0.dropFirst("Bearer ".count)) } ?? ""
        let valid = state.withLock { $0.issued.contains(bearer) && !$0.revoked.contains(bearer) }
        guard valid else {
            return .init(status: 401, body: """
                {"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}
                """)
        }
        guard let body = try? JSONDecoder().decode(JSONValue.self, from: request.body),
              let token = body["message"]?["token"]?.stringValue
        else {
            return problem("the body is not a message")
        }
        let count = state.withLock { state in
            state.messages.append(body)
            return state.messages.count
        }
        switch token {
        case "gone-token":
            return .init(status: 404, body: """
                {"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[\
                {"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}
                """)
        case "malformed-token":
            return .init(status: 400, body: """
                {"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT",\
                "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}
                """)
        case "bad-message":
            return .init(status: 400, body: """
                {"error":{"code":400,"message":"Invalid value at 'message.android.ttl'","status":"INVALID_ARGUMENT",\
                "details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.android.ttl"}]}]}}
                """)
        case "busy-token":
            return .init(status: 503, body: """
                {"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}
                """)
        default:
            return .init(status: 200, body: #"{"name":"projects/\#(Self.projectID)/messages/\#(count)"}"#)
        }
    }
}
