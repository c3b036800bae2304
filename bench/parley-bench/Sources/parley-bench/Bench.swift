import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// What every scenario needs: the event loops, the server, setup over HTTP, and the server process to watch.
final class Bench: Sendable {
    let group: MultiThreadedEventLoopGroup
    let target: ServerTarget
    let api: ParleyAPI
    let serverPID: Int32?
    let sources: SourceAddresses
    let connectConcurrency: Int
    let label: String
    let tag: Int
    private let connectionCounter: Atomic<Int>

    init(group: MultiThreadedEventLoopGroup, target: ServerTarget, api: ParleyAPI, serverPID: Int32?, sources: SourceAddresses,
         connectConcurrency: Int, label: String) {
        self.group = group
        self.target = target
        self.api = api
        self.serverPID = serverPID
        self.sources = sources
        self.connectConcurrency = connectConcurrency
        self.label = label
        // A run tag that differs between runs against the same data (seconds since 2026 mod 10^6, plus pid).
        tag = Int(Date().timeIntervalSince1970) % 1_000_000 * 100 + Int(getpid() % 100)
        // Runs started within a minute of each other use different source addresses (a block of 2,000 addresses
        // per 2-second slot, 30 slots), so back-to-back runs do not exhaust one address's login allowance.
        let block = Int(Date().timeIntervalSince1970) / 2 % 30
        connectionCounter = Atomic(block * 2_000 * max(1, sources.connectionsPerAddress))
    }

    func log(_ message: String) {
        FileHandle.standardError.write(Data("[parley-bench] \(message)\n".utf8))
    }

    /// Creates `count` users named `pb<tag>-<role>-<i>` and mints a token for each.
    func makeUsers(_ role: String, count: Int) async throws -> [(id: String, token: String)] {
        let ids = (0..<count).map { "pb\(tag)-\(role)-\($0)" }
        let api = self.api
        return try await concurrentMap(ids, limit: 32) { id in
            try await api.putUser(id)
            return (id, try await api.token(for: id))
        }
    }

    /// One peer per user, spread over the event loops and the loopback source addresses.
    func makePeers(_ users: [(id: String, token: String)], run: RunState, firstIndex: Int = 0) -> [Peer] {
        users.enumerated().map { offset, user in
            let connection = connectionCounter.add(1, ordering: .relaxed).oldValue
            return Peer(index: firstIndex + offset, user: user.id, token: user.token, loop: group.next(),
                        sourceAddress: sources.address(for: connection), run: run)
        }
    }

    /// Connects every peer (at most `connectConcurrency` handshakes at once); returns the failures.
    func connectAll(_ peers: [Peer], resume: Bool = false, concurrency: Int? = nil, timeout: TimeAmount = .seconds(60)) async -> [String] {
        let target = self.target
        let failures = (try? await concurrentMap(peers, limit: concurrency ?? connectConcurrency) { peer -> String? in
            do {
                try await WebSocketConnector.connect(peer, to: target, resume: resume).withDeadline(timeout, on: peer.loop).get()
                return nil
            } catch {
                return "\(error)"
            }
        }) ?? ["connect: task failed"]
        return failures.compactMap { $0 }
    }

    func closeAll(_ peers: [Peer]) async {
        for peer in peers { peer.loop.execute { peer.close() } }
        try? await Task.sleep(for: .milliseconds(300))
    }

    func sample() -> ProcessSample? { ProcessSample.read(pid: serverPID) }

    /// Adds the server's CPU seconds between two samples, its peak and current RSS, and the client's CPU.
    func addServerFields(_ report: inout Report, before: ProcessSample?, after: ProcessSample?, clientCPU: Double, per work: (String, Int)...) {
        report.set("client_cpu_s", clientCPU)
        guard let before, let after else {
            report.set("server_cpu_s", .null)
            return
        }
        let cpu = after.cpuSeconds - before.cpuSeconds
        report.set("server_cpu_s", cpu)
        for (name, count) in work where count > 0 {
            report.set("server_cpu_us_per_\(name)", cpu * 1e6 / Double(count), digits: 1)
        }
        report.set("server_rss_mb", Double(after.rssKB) / 1024, digits: 1)
        report.set("server_peak_rss_mb", Double(after.peakRSSKB) / 1024, digits: 1)
        report.set("server_threads", after.threads)
    }

    func emit(_ report: Report, jsonOut: String?) {
        print(report.table)
        print(report.jsonLine)
        if let jsonOut, let handle = FileHandle(forWritingAtPath: jsonOut) ?? {
            _ = FileManager.default.createFile(atPath: jsonOut, contents: nil)
            return FileHandle(forWritingAtPath: jsonOut)
        }() {
            handle.seekToEndOfFile()
            handle.write(Data((report.jsonLine + "\n").utf8))
            try? handle.close()
        }
    }
}

extension EventLoopFuture {
    /// Fails with a timeout unless this future completes within `timeout`.
    func withDeadline(_ timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Value> where Value: Sendable {
        let promise = loop.makePromise(of: Value.self)
        let timer = loop.scheduleTask(in: timeout) { promise.fail(BenchError("timed out after \(timeout.nanoseconds / 1_000_000_000) s")) }
        whenComplete { result in
            timer.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }
}
