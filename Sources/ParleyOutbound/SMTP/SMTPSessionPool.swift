import Foundation
import ParleyCore
import Synchronization

/// One message for an SMTP session, and who waits for its outcome.
struct SMTPJob: Sendable {
    let envelope: MailEnvelope
    let data: SMTPMessageData
    let done: CheckedContinuation<Void, any Error>
}

/// Thrown to a job given to a parked session that turned out to be closed before its transaction began (the
/// server dropped the idle connection): nothing of the message was sent, so it goes out on a new session.
struct SMTPStaleSession: Error {}

/// SMTP sessions kept open between messages to the same server (RFC 5321 allows any number of mail transactions
/// per session): a burst of notification emails then costs one connection, TLS handshake and AUTH instead of one
/// per message, and providers that limit connections per minute stop refusing them.
///
/// A session that has delivered a message parks here; the next message to the same `SMTPServer` (same host,
/// port, security and credentials) takes it. A parked session closes (QUIT) after `idleTimeout`, and at most
/// `maxParkedPerServer` are kept per server; messages that find none parked open a new session, so concurrency is
/// never limited here.
final class SMTPSessionPool: Sendable {
    /// A parked session: how to give it the next job (or tell it to close, with nil).
    final class Parked: Sendable {
        let server: SMTPServer
        fileprivate let id: Int
        fileprivate let wake: CheckedContinuation<SMTPJob?, Never>

        fileprivate init(server: SMTPServer, id: Int, wake: CheckedContinuation<SMTPJob?, Never>) {
            self.server = server
            self.id = id
            self.wake = wake
        }
    }

    private struct State {
        var parked: [SMTPServer: [Parked]] = [:]
        var nextID = 0
    }

    let idleTimeout: Duration
    let maxParkedPerServer: Int
    private let state = Mutex(State())

    init(idleTimeout: Duration = .seconds(30), maxParkedPerServer: Int = 4) {
        self.idleTimeout = idleTimeout
        self.maxParkedPerServer = maxParkedPerServer
    }

    /// Hands `job` to a parked session of `server`; false when none is parked.
    func dispatch(_ job: SMTPJob, to server: SMTPServer) -> Bool {
        let session = state.withLock { state -> Parked? in
            guard var list = state.parked[server], !list.isEmpty else { return nil }
            let session = list.removeLast()  // the most recently used: the least likely to have been dropped
            state.parked[server] = list.isEmpty ? nil : list
            return session
        }
        guard let session else { return false }
        session.wake.resume(returning: job)
        return true
    }

    /// Parks a session that is ready for another transaction, calls `parked` (whether it was kept or not), and waits
    /// for its next job; nil when it should close instead (idle for `idleTimeout`, or enough sessions of its server
    /// are parked already).
    func park(server: SMTPServer, then parked: @Sendable () -> Void = {}) async -> SMTPJob? {
        await withCheckedContinuation { (wake: CheckedContinuation<SMTPJob?, Never>) in
            let id = state.withLock { state -> Int? in
                guard (state.parked[server]?.count ?? 0) < maxParkedPerServer else { return nil }
                state.nextID += 1
                state.parked[server, default: []].append(Parked(server: server, id: state.nextID, wake: wake))
                return state.nextID
            }
            parked()
            guard let id else {
                wake.resume(returning: nil)
                return
            }
            let timeout = idleTimeout
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                self?.expire(server: server, id: id)
            }
        }
    }

    /// Ends a parked session's wait if it is still parked (no job took it meanwhile).
    private func expire(server: SMTPServer, id: Int) {
        let session = state.withLock { state -> Parked? in
            guard var list = state.parked[server], let index = list.firstIndex(where: { $0.id == id }) else { return nil }
            let session = list.remove(at: index)
            state.parked[server] = list.isEmpty ? nil : list
            return session
        }
        session?.wake.resume(returning: nil)
    }

    /// Closes every parked session (they say QUIT).
    func closeAll() {
        let sessions = state.withLock { state in
            defer { state.parked.removeAll() }
            return state.parked.values.flatMap { $0 }
        }
        for session in sessions { session.wake.resume(returning: nil) }
    }

    var parkedCount: Int { state.withLock { $0.parked.values.reduce(0) { $0 + $1.count } } }
}
