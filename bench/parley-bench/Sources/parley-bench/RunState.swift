import NIOCore
import Synchronization

/// Counters every connection updates and the coordinator polls while a scenario runs.
final class RunCounters: Sendable {
    /// Sends answered (ack or error).
    let settled = Atomic<Int>(0)
    let acked = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
    /// First-time deliveries of this run's messages to a connection (the sender's own echo included).
    let delivered = Atomic<Int>(0)
    let duplicates = Atomic<Int>(0)
    let unexpectedCloses = Atomic<Int>(0)
    let slowConsumers = Atomic<Int>(0)
}

/// What one run shares between its connections: the tag that marks its messages, and its counters.
final class RunState: Sendable {
    /// Put in every client message id (`B<tag>.<sender>.<seq>.<sent-at-ns>`), so items from other runs are ignored.
    let tag: Int
    /// Expected messages per sender, to size the receipt bitmaps.
    let messagesPerSender: Int
    let counters = RunCounters()

    init(tag: Int, messagesPerSender: Int) {
        self.tag = tag
        self.messagesPerSender = messagesPerSender
    }
}

/// Where the server is.
struct ServerTarget: Sendable {
    var host: String
    var port: Int
    var webSocketPath = "/v1/ws"
}

/// Spreads client connections over loopback source addresses (127.X.Y.Z): Parley limits WebSocket logins per
/// client address (30 a minute by default), and the whole 127/8 range is this machine.
struct SourceAddresses: Sendable {
    var secondOctet: Int
    var connectionsPerAddress: Int
    var enabled: Bool

    func address(for connection: Int) -> SocketAddress? {
        guard enabled else { return nil }
        let slot = connection / max(1, connectionsPerAddress)
        let third = (slot / 250) % 256
        let fourth = slot % 250 + 1
        return try? SocketAddress(ipAddress: "127.\(secondOctet).\(third).\(fourth)", port: 0)
    }
}
