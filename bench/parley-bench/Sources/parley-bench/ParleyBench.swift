import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

@main
struct ParleyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-bench",
        abstract: "Load generator for Parley's WebSocket protocol: many connections from one process, exact latency, loss and duplicates.",
        discussion: """
        Every scenario sets itself up through the HTTP API with an API key (users, tokens, conversations), then drives
        WebSocket connections on one event loop per core. Each message carries its sender, sequence number and send time
        (CLOCK_MONOTONIC, the clock receipts are read on) in its client_msg_id. Output: a table and one JSON line per run.
        """,
        subcommands: [Pairs.self, Group.self, Fanout.self, Paced.self, Idle.self, Reconnect.self]
    )
}

struct CommonOptions: ParsableArguments {
    @Option(help: "Parley's base URL (loopback only).")
    var url = "http://127.0.0.1:8080"

    @Option(name: .customLong("api-key"), help: "API key with scope server or admin (default: $PARLEY_BENCH_API_KEY).")
    var apiKey: String?

    @Option(name: .customLong("server-pid"), help: "The server's PID, for its CPU seconds and RSS from /proc.")
    var serverPID: Int32?

    @Option(help: "Event loop threads (default: one per core).")
    var threads = System.coreCount

    @Option(name: .customLong("json-out"), help: "Also append the JSON line to this file.")
    var jsonOut: String?

    @Option(help: "A label copied into the report (e.g. the server build).")
    var label = ""

    @Option(help: "Seconds a run may take before it stops waiting and reports what it has.")
    var timeout: Double = 120

    @Option(name: .customLong("source-octet"), help: "Spread connections over 127.N.x.y source addresses (0: do not).")
    var sourceOctet = 77

    @Option(name: .customLong("connections-per-address"), help: "Connections per source address (Parley limits logins per address).")
    var connectionsPerAddress = 10

    @Option(name: .customLong("connect-concurrency"), help: "WebSocket handshakes in progress at once.")
    var connectConcurrency = 128

    @Flag(name: .customLong("keep-send-limit"), help: "Do not raise the per-user send_message limit for the user role (needs an admin key).")
    var keepSendLimit = false

    func withBench(_ body: (Bench) async throws -> Void) async throws {
        guard let components = URLComponents(string: url), let host = components.host, host.hasPrefix("127.") || host == "localhost" else {
            throw ValidationError("--url must point at a loopback address")
        }
        guard let key = apiKey ?? ProcessInfo.processInfo.environment["PARLEY_BENCH_API_KEY"], !key.isEmpty else {
            throw ValidationError("give an API key with --api-key or PARLEY_BENCH_API_KEY")
        }
        let files = raiseOpenFileLimit()
        let target = ServerTarget(host: host == "localhost" ? "127.0.0.1" : host, port: components.port ?? 80)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        do {
            let http = try await HTTPPool.connect(group: group, target: target, size: 8)
            let api = ParleyAPI(http: http, apiKey: key)
            let override = keepSendLimit ? "kept" : await api.raiseUserSendLimit()
            let bench = Bench(group: group, target: target, api: api, serverPID: serverPID,
                              sources: SourceAddresses(secondOctet: sourceOctet, connectionsPerAddress: connectionsPerAddress, enabled: sourceOctet > 0),
                              connectConcurrency: connectConcurrency, label: label)
            bench.log("threads \(threads), open-file limit \(files), per-user send limit \(override), run tag \(bench.tag)")
            try await body(bench)
            await http.close()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}

struct Pairs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "P pairs in direct conversations; each sender sends N to its partner.")
    @OptionGroup var common: CommonOptions
    @Option var pairs = 10
    @Option var messages = 5000
    @Option(help: "Sends per sender awaiting their ack.") var window = 200

    func run() async throws {
        try await common.withBench { bench in
            let shape = MessagingShape(
                name: "pairs", conversations: (0..<pairs).map { [2 * $0, 2 * $0 + 1] },
                senders: (0..<pairs).map { (peer: 2 * $0, conversation: $0) }, messagesPerSender: messages, window: window, ratePerSender: nil
            )
            _ = try await bench.runMessaging(shape, users: 2 * pairs, timeout: common.timeout, jsonOut: common.jsonOut)
        }
    }
}

struct Group: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One group of M members; every member sends N.")
    @OptionGroup var common: CommonOptions
    @Option var members = 20
    @Option(help: "Messages per member.") var messages = 250
    @Option(help: "Sends per sender awaiting their ack.") var window = 20
    @Option(help: "How many of the members send (default: all).") var senders: Int?

    func run() async throws {
        try await common.withBench { bench in
            let count = min(senders ?? members, members)
            let shape = MessagingShape(
                name: "group", conversations: [Array(0..<members)], senders: (0..<count).map { (peer: $0, conversation: 0) },
                messagesPerSender: messages, window: window, ratePerSender: nil
            )
            _ = try await bench.runMessaging(shape, users: members, timeout: common.timeout, jsonOut: common.jsonOut)
        }
    }
}

struct Fanout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One sender to a group with R other members.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Members besides the sender.") var receivers = 100
    @Option var messages = 2000
    @Option(help: "Sends awaiting their ack.") var window = 100

    func run() async throws {
        try await common.withBench { bench in
            let shape = MessagingShape(
                name: "fanout", conversations: [Array(0...receivers)], senders: [(peer: 0, conversation: 0)],
                messagesPerSender: messages, window: window, ratePerSender: nil
            )
            _ = try await bench.runMessaging(shape, users: receivers + 1, timeout: common.timeout, jsonOut: common.jsonOut)
        }
    }
}

struct Paced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "1:1 at a fixed total rate, for latency: P pairs, each sender at rate/P msgs/s for the duration.",
        discussion: "The default (100 pairs x 2 msgs/s x 19 s) stays under Parley's default per-sender flood limit of 40 messages a minute in one conversation."
    )
    @OptionGroup var common: CommonOptions
    @Option var pairs = 100
    @Option(help: "Total messages per second.") var rate: Double = 200
    @Option(help: "Seconds of sending.") var duration: Double = 19
    @Option(help: "Sends per sender awaiting their ack (a paced tick with a full window is skipped and counted).") var window = 100

    func run() async throws {
        try await common.withBench { bench in
            let perSender = rate / Double(pairs)
            let shape = MessagingShape(
                name: "paced", conversations: (0..<pairs).map { [2 * $0, 2 * $0 + 1] },
                senders: (0..<pairs).map { (peer: 2 * $0, conversation: $0) },
                messagesPerSender: max(1, Int((perSender * duration).rounded())), window: window, ratePerSender: perSender
            )
            _ = try await bench.runMessaging(shape, users: 2 * pairs, timeout: common.timeout, jsonOut: common.jsonOut)
        }
    }
}

struct Idle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "N connections that say hello and stay idle; server RSS per connection.")
    @OptionGroup var common: CommonOptions
    @Option var connections = 1000
    @Option(help: "Distinct users (default: one per connection).") var users: Int?
    @Option(help: "Seconds to hold the connections open after they settle.") var hold: Double = 5

    func run() async throws {
        try await common.withBench { bench in
            _ = try await bench.runIdle(connections: connections, users: users ?? connections, hold: hold, jsonOut: common.jsonOut)
        }
    }
}

struct Reconnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "N clients drop and reconnect with resume at once while groups keep receiving messages.",
        discussion: "The default rate (1 msg/s per group for ~10 s) stays under Parley's default per-sender flood limit."
    )
    @OptionGroup var common: CommonOptions
    @Option var clients = 1000
    @Option(help: "Groups (each with one sender that stays connected).") var groups = 10
    @Option(help: "Messages per second per group sender.") var rate: Double = 2
    @Option(help: "Seconds of sending before the drop.") var before: Double = 3
    @Option(help: "Seconds of sending after everyone resumed.") var after: Double = 3

    func run() async throws {
        try await common.withBench { bench in
            _ = try await bench.runReconnect(clients: clients, groups: groups, rate: rate, before: before, after: after,
                                             timeout: min(common.timeout, 60), jsonOut: common.jsonOut)
        }
    }
}
