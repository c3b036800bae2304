import Foundation
import Notifications
import ParleyCore
import Synchronization

/// The in-process hub of `GET /v1/notifications/stream`: which users have SSE streams open on this node,
/// and the way notification frames reach them. Routing state only; a stream that misses a frame resumes
/// from the inbox with `Last-Event-ID`.
public final class NotificationStreamBroadcaster: NotificationPusher, Sendable {
    enum Item: Sendable {
        case frame(NotificationFrame)
        case heartbeat
    }

    private struct State {
        var next: UInt64 = 0
        var streams: [UserID: [UInt64: AsyncStream<Item>.Continuation]] = [:]
    }

    private let state = Mutex(State())
    /// Frames one slow stream may have queued before the oldest are dropped (the client then resumes from its inbox).
    let bufferLimit: Int

    public init(bufferLimit: Int = 256) {
        self.bufferLimit = bufferLimit
    }

    /// Open streams on this node.
    public var streamCount: Int { state.withLock { $0.streams.values.reduce(0) { $0 + $1.count } } }

    func subscribe(_ user: UserID) -> (id: UInt64, stream: AsyncStream<Item>, continuation: AsyncStream<Item>.Continuation) {
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(bufferLimit))
        let id = state.withLock { state -> UInt64 in
            state.next &+= 1
            state.streams[user, default: [:]][state.next] = continuation
            return state.next
        }
        return (id, stream, continuation)
    }

    func unsubscribe(_ user: UserID, id: UInt64) {
        let continuation = state.withLock { state -> AsyncStream<Item>.Continuation? in
            let removed = state.streams[user]?.removeValue(forKey: id)
            if state.streams[user]?.isEmpty ?? false { state.streams.removeValue(forKey: user) }
            return removed
        }
        continuation?.finish()
    }

    public func connectedUsers(among users: [UserID]) -> Set<UserID> {
        state.withLock { state in Set(users.filter { state.streams[$0] != nil }) }
    }

    public func push(_ frame: NotificationFrame, to user: UserID) {
        let targets = state.withLock { Array($0.streams[user]?.values ?? [:].values) }
        for continuation in targets { continuation.yield(.frame(frame)) }
    }
}
