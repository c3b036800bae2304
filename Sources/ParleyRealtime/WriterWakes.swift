import NIOCore

/// Connections to wake once a batch of deliveries is queued: one hop per event loop for the whole batch
/// instead of one per connection per frame, and each woken connection then writes all its new frames
/// with one flush (one system call). The live fan-out collects them per batch of events it reads.
final class WriterWakes {
    private var byLoop: [ObjectIdentifier: (loop: any EventLoop, sessions: [Session])] = [:]

    func add(_ session: Session) {
        let loop = session.eventLoop
        byLoop[ObjectIdentifier(loop), default: (loop, [])].sessions.append(session)
    }

    func wakeAll() {
        for entry in byLoop.values {
            let sessions = entry.sessions
            entry.loop.execute {
                for session in sessions { session.connection.value?.writeQueued() }
            }
        }
        byLoop.removeAll(keepingCapacity: true)
    }
}
