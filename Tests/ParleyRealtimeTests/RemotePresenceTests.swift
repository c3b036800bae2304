import Foundation
import NIOEmbedded
import ParleyCore
@testable import ParleyRealtime
import Testing

/// How a node's hub merges the presence other nodes report (through `SignalRelay`) with its own connections: a user
/// is online while connected anywhere, and watchers hear only of changes to that.
@Suite struct RemotePresenceTests {
    let hub = ConnectionHub(clock: SystemWallClock())
    let alice = UserID(trusted: "alice"), carol = UserID(trusted: "carol")

    /// A session past its hello, as the gateway makes one.
    func session(_ user: String, id: String) -> Session {
        let session = Session(id: id, user: UserID(trusted: user), roles: [.user], queueCapacity: 100, channel: EmbeddedChannel())
        session.beginResume()
        session.goLive(lastUserSeq: 0)
        return session
    }

    /// The presence frames `session` was given since the last call: (user, online).
    func presence(_ session: Session) -> [(String, Bool)] {
        guard case .frames(let frames) = session.queue.take(limit: 100) else { return [] }
        return frames.compactMap { text -> (String, Bool)? in
            guard case .object(let frame)? = try? JSONValue(parsing: text), frame["type"] == "presence",
                  let user = frame["user_id"]?.stringValue, case .bool(let online)? = frame["online"] else { return nil }
            return (user, online)
        }
    }

    @Test func aUserIsOnlineWhileConnectedToAnyNode() {
        let bob = session("bob", id: "s1")
        hub.watch([alice, carol], from: bob)
        #expect(presence(bob).map(\.1) == [false, false])

        hub.remotePresence(node: "n1", online: [alice], offline: [], replacing: false)
        #expect(presence(bob).map { "\($0.0)=\($0.1)" } == ["alice=true"])
        // On a second node too, then gone from the first: still online, nothing to say.
        hub.remotePresence(node: "n2", online: [alice], offline: [], replacing: false)
        hub.remotePresence(node: "n1", online: [], offline: [alice], replacing: false)
        #expect(presence(bob).isEmpty)
        // Connected here as well, then gone from n2: still online here.
        let aliceHere = session("alice", id: "s2")
        hub.attach(aliceHere)
        hub.remotePresence(node: "n2", online: [], offline: [alice], replacing: false)
        #expect(presence(bob).isEmpty)
        // Her last connection anywhere closes: offline.
        hub.detach(aliceHere)
        #expect(presence(bob).map { "\($0.0)=\($0.1)" } == ["alice=false"])
    }

    @Test func aFullListReplacesWhatANodeReportedAndASilentNodeIsForgotten() {
        let bob = session("bob", id: "s1")
        hub.watch([alice, carol], from: bob)
        _ = presence(bob)
        hub.heard(node: "n1", at: Date())
        hub.remotePresence(node: "n1", online: [alice, carol], offline: [], replacing: true)
        #expect(Set(presence(bob).map { "\($0.0)=\($0.1)" }) == ["alice=true", "carol=true"])
        // The node's next full list no longer has alice (it restarted, say): she went offline.
        hub.remotePresence(node: "n1", online: [carol], offline: [], replacing: true)
        #expect(presence(bob).map { "\($0.0)=\($0.1)" } == ["alice=false"])
        // Not heard from since well before the deadline: its users are offline.
        hub.heard(node: "n1", at: Date(timeIntervalSinceNow: -120))
        hub.forgetNodes(silentSince: Date(timeIntervalSinceNow: -45))
        #expect(presence(bob).map { "\($0.0)=\($0.1)" } == ["carol=false"])
        // A node that says goodbye is forgotten at once.
        hub.remotePresence(node: "n2", online: [alice], offline: [], replacing: false)
        _ = presence(bob)
        hub.forget(node: "n2")
        #expect(presence(bob).map { "\($0.0)=\($0.1)" } == ["alice=false"])
    }
}
