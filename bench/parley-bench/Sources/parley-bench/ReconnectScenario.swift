import Foundation
import NIOCore

extension Bench {
    /// `clients` connections in `groups` groups, each group fed by one sender at `rate` messages/s that stays
    /// connected. After `before` seconds every client drops and reconnects with its resume token at once; the
    /// report gives the time until all are resumed and checks that every message (those sent during the storm
    /// included) reached every client exactly once.
    func runReconnect(clients: Int, groups: Int, rate: Double, before: Double, after: Double, timeout: Double,
                      jsonOut: String?) async throws -> Report {
        let groups = max(1, min(groups, clients))
        let capacity = Int(rate * (before + after + timeout)) + 10
        let run = RunState(tag: tag, messagesPerSender: capacity)
        log("reconnect: creating \(clients) clients and \(groups) senders")
        let senderAccounts = try await makeUsers("feed", count: groups)
        let clientAccounts = try await makeUsers("storm", count: clients)
        var members = [[Int]](repeating: [], count: groups)
        for client in 0..<clients { members[client % groups].append(groups + client) }
        let api = self.api
        let groupMembers = members
        let conversationIDs = try await concurrentMap(Array(0..<groups), limit: 4) { group in
            try await api.createGroup(name: "storm \(group)", owner: senderAccounts[group].id,
                                      members: groupMembers[group].map { clientAccounts[$0 - groups].id })
        }
        let peers = makePeers(senderAccounts + clientAccounts, run: run)
        let senders = Array(peers[0..<groups])
        let storm = Array(peers[groups...])
        log("reconnect: connecting \(peers.count) WebSockets")
        let failures = await connectAll(peers)
        guard failures.isEmpty else {
            await closeAll(peers)
            throw BenchError("\(failures.count) of \(peers.count) connections failed; first: \(failures[0])")
        }
        let tag = self.tag
        for (index, peer) in senders.enumerated() {
            let conversation = conversationIDs[index]
            try await peer.loop.submit {
                peer.sender = Sender(index: index, tag: tag, conversationID: conversation, total: capacity, window: 1000)
            }.get()
        }
        try await Task.sleep(for: .milliseconds(500))
        let sampleBefore = sample()
        let clientCPUBefore = ownCPUSeconds()
        for (index, peer) in senders.enumerated() {
            peer.loop.execute {
                guard let sender = peer.sender else { return }
                sender.running = true
                let offset = TimeAmount.nanoseconds(Int64(1e9 / rate * Double(index) / Double(groups)))
                sender.paced = true
                sender.pacing = peer.loop.scheduleRepeatedTask(initialDelay: offset, delay: .nanoseconds(Int64(1e9 / rate))) { _ in peer.tick() }
            }
        }
        try await Task.sleep(for: .seconds(before))

        log("reconnect: dropping \(clients) connections")
        let dropAt = monotonicNanos()
        for peer in storm { peer.loop.execute { peer.close() } }
        for peer in storm {
            while try await peer.loop.submit({ peer.connection != nil }).get() { try await Task.sleep(for: .milliseconds(1)) }
        }
        let droppedAt = monotonicNanos()
        log("reconnect: all dropped in \(String(format: "%.1f", Double(droppedAt - dropAt) / 1e6)) ms; reconnecting with resume")
        let beforeStorm = sample()
        let reconnectFailures = await connectAll(storm, resume: true, concurrency: clients, timeout: .seconds(Int64(timeout)))
        let stormCPU = sample()
        var resumedAt: [UInt64] = []
        var missedFrames = 0
        var resumedWithMissed = 0
        var notResumed = 0
        for peer in storm {
            let (at, missed, resumed) = try await peer.loop.submit { (peer.resumedAt, peer.lastMissed, peer.lastResumed) }.get()
            if at > droppedAt { resumedAt.append(at - dropAt) }
            missedFrames += missed
            if missed > 0 { resumedWithMissed += 1 }
            if !resumed { notResumed += 1 }
        }
        let allResumedAt = dropAt + (resumedAt.max() ?? 0)
        log("reconnect: \(resumedAt.count) of \(clients) resumed; sending on for \(after) s")
        try await Task.sleep(for: .seconds(after))
        for peer in senders {
            peer.loop.execute {
                peer.sender?.running = false
                peer.sender?.pacing?.cancel()
            }
        }
        // Wait until every send is answered and every accepted message reached every member.
        let deadline = monotonicNanos() + UInt64(timeout * 1e9)
        var timedOut = false
        while true {
            var expected = 0
            var unsettled = 0
            for (index, peer) in senders.enumerated() {
                let (acked, pending) = try await peer.loop.submit { (peer.sender?.acked.count ?? 0, peer.sender?.inFlight ?? 0) }.get()
                expected += acked * (members[index].count + 1)
                unsettled += pending
            }
            if unsettled == 0 && run.counters.delivered.load(ordering: .relaxed) >= expected { break }
            if monotonicNanos() > deadline {
                timedOut = true
                break
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let sampleAfter = sample()
        let clientCPU = ownCPUSeconds() - clientCPUBefore
        var results: [PeerResult] = []
        for peer in peers { results.append(try await peer.loop.submit { peer.result() }.get()) }
        await closeAll(peers)

        var lost = 0, lostDuringStorm = 0, sentDuringStorm = 0, acked = 0
        var refused: [String: Int] = [:]
        for (index, senderResult) in results[0..<groups].compactMap(\.sender).enumerated() {
            acked += senderResult.acked.count
            senderResult.refusedByCode.forEach { refused[$0.key, default: 0] += $0.value }
            for seq in 0..<senderResult.sent where senderResult.acked.contains(seq) {
                let at = senderResult.sentAt[seq]
                let inStorm = at >= dropAt && at <= allResumedAt
                if inStorm { sentDuringStorm += 1 }
                for member in members[index] where !(results[member].received[index]?.contains(seq) ?? false) {
                    lost += 1
                    if inStorm { lostDuringStorm += 1 }
                }
            }
        }
        let latency = LatencySummary(results[groups...].flatMap(\.latencies))
        let reconnect = LatencySummary(resumedAt.map { UInt32(clamping: $0 / 1000) })

        var report = Report(scenario: "reconnect")
        report.set("label", label)
        report.set("clients", clients)
        report.set("groups", groups)
        report.set("rate_msgs_per_s", rate * Double(groups), digits: 1)
        report.set("reconnect_failures", reconnectFailures.count)
        if let first = reconnectFailures.first { report.set("first_failure", String(first.prefix(200))) }
        report.set("resumed", resumedAt.count)
        report.set("drop_to_all_resumed_ms", Double(resumedAt.max() ?? 0) / 1e6, digits: 1)
        report.set("resume_p50_ms", reconnect.p50, digits: 1)
        report.set("resume_p99_ms", reconnect.p99, digits: 1)
        report.set("clients_with_missed", resumedWithMissed)
        report.set("missed_frames_replayed", missedFrames)
        report.set("hello_not_resumed", notResumed)
        report.set("resync_required", results.reduce(0) { $0 + $1.resyncRequired })
        report.set("acked", acked)
        report.set("refused_by_code", refused)
        report.set("msgs_during_storm", sentDuringStorm)
        report.set("lost", lost)
        report.set("lost_during_storm", lostDuringStorm)
        report.set("duplicated", results.reduce(0) { $0 + $1.duplicates })
        report.set("latency_p50_ms", latency.p50, digits: 3)
        report.set("latency_p99_ms", latency.p99, digits: 3)
        report.set("latency_max_ms", latency.max, digits: 3)
        report.set("unexpected_closes", results.reduce(0) { $0 + $1.unexpectedCloses })
        report.set("timed_out", timedOut)
        if let beforeStorm, let stormCPU { report.set("server_cpu_storm_s", stormCPU.cpuSeconds - beforeStorm.cpuSeconds) }
        addServerFields(&report, before: sampleBefore, after: sampleAfter, clientCPU: clientCPU)
        emit(report, jsonOut: jsonOut)
        return report
    }
}
