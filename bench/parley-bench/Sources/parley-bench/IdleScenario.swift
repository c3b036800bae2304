import Foundation
import NIOCore

extension Bench {
    /// Opens `connections` WebSockets that authenticate (hello) and then stay idle, and reports how much the
    /// server's resident memory grew per connection.
    func runIdle(connections: Int, users: Int, hold: Double, jsonOut: String?) async throws -> Report {
        let run = RunState(tag: tag, messagesPerSender: 0)
        let userCount = max(1, min(users, connections))
        log("idle: creating \(userCount) users and tokens")
        let accounts = try await makeUsers("idle", count: userCount)
        let peers = makePeers((0..<connections).map { accounts[$0 % userCount] }, run: run)
        for peer in peers { peer.trackReceipts = false }
        try await Task.sleep(for: .seconds(1))
        let before = sample()
        let clientCPUBefore = ownCPUSeconds()
        log("idle: connecting \(connections) WebSockets (\(connectConcurrency) handshakes at a time)")
        let start = monotonicNanos()
        let failures = await connectAll(peers, timeout: .seconds(120))
        let connectSeconds = Double(monotonicNanos() - start) / 1e9
        let connected = connections - failures.count
        let connectCPU = sample()
        log("idle: \(connected) connected in \(String(format: "%.1f", connectSeconds)) s; settling 3 s")
        try await Task.sleep(for: .seconds(3))
        let settled = sample()
        log("idle: holding for \(hold) s")
        try await Task.sleep(for: .seconds(hold))
        let held = sample()
        let clientCPU = ownCPUSeconds() - clientCPUBefore
        var stillOpen = 0
        for peer in peers where try await peer.loop.submit({ peer.connection != nil }).get() { stillOpen += 1 }
        await closeAll(peers)
        try await Task.sleep(for: .seconds(2))
        let closed = sample()

        var report = Report(scenario: "idle")
        report.set("label", label)
        report.set("connections", connections)
        report.set("users", userCount)
        report.set("connected", connected)
        report.set("failed", failures.count)
        if let first = failures.first { report.set("first_failure", String(first.prefix(200))) }
        report.set("connect_s", connectSeconds, digits: 2)
        report.set("connects_per_s", Double(connected) / connectSeconds, digits: 1)
        report.set("still_open_after_hold", stillOpen)
        report.set("unexpected_closes", run.counters.unexpectedCloses.load(ordering: .relaxed))
        if let before, let settled, let held {
            report.set("server_rss_before_mb", Double(before.rssKB) / 1024, digits: 1)
            report.set("server_rss_connected_mb", Double(settled.rssKB) / 1024, digits: 1)
            report.set("server_rss_after_hold_mb", Double(held.rssKB) / 1024, digits: 1)
            let perConnection = Double(max(settled.rssKB, held.rssKB) - before.rssKB) * 1024 / Double(max(1, connected))
            report.set("server_rss_per_connection_kb", perConnection / 1024, digits: 2)
            report.set("server_rss_per_connection_bytes", Int(perConnection))
            if let closed { report.set("server_rss_after_close_mb", Double(closed.rssKB) / 1024, digits: 1) }
            if let connectCPU {
                report.set("server_cpu_connect_s", connectCPU.cpuSeconds - before.cpuSeconds)
                report.set("server_cpu_us_per_connect", (connectCPU.cpuSeconds - before.cpuSeconds) * 1e6 / Double(max(1, connected)), digits: 1)
            }
            report.set("server_cpu_idle_hold_s", held.cpuSeconds - settled.cpuSeconds)
            report.set("server_threads", held.threads)
            report.set("server_peak_rss_mb", Double(held.peakRSSKB) / 1024, digits: 1)
        }
        report.set("client_cpu_s", clientCPU)
        emit(report, jsonOut: jsonOut)
        return report
    }
}
