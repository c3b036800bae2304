import Foundation
import NIOCore

/// The shape of a messaging run: who is in which conversation, who sends where, how many and how fast.
struct MessagingShape: Sendable {
    var name: String
    /// Member peer indexes of each conversation.
    var conversations: [[Int]]
    /// Sending peers and the conversation each one sends to.
    var senders: [(peer: Int, conversation: Int)]
    var messagesPerSender: Int
    var window: Int
    /// Messages per second per sender; nil sends as fast as the window allows.
    var ratePerSender: Double?
    var details: [(String, String)] = []
}

/// What the coordinator collects from one peer at the end.
struct PeerResult: Sendable {
    var received: [Int: SeqSet]
    var recipientDeliveries: Int
    var echoDeliveries: Int
    var duplicates: Int
    var latencies: [UInt32]
    var lastDeliveryAt: UInt64
    var errors: [String: Int]
    var unexpectedCloses: Int
    var slowConsumer: Int
    var resyncRequired: Int
    var sender: SenderResult?
}

struct SenderResult: Sendable {
    var index: Int
    var sent: Int
    var acked: SeqSet
    var sentAt: [UInt64]
    var refusedByCode: [String: Int]
    var duplicateAcks: Int
    var ackLatencies: [UInt32]
    var missedTicks: Int
}

extension Peer {
    func result() -> PeerResult {
        PeerResult(received: received, recipientDeliveries: recipientDeliveries, echoDeliveries: echoDeliveries, duplicates: duplicates,
                   latencies: latencies, lastDeliveryAt: lastDeliveryAt, errors: errorsByCode, unexpectedCloses: unexpectedCloses,
                   slowConsumer: slowConsumer, resyncRequired: resyncRequired,
                   sender: sender.map {
                       SenderResult(index: $0.index, sent: $0.nextSeq, acked: $0.acked, sentAt: $0.sentAt, refusedByCode: $0.refusedByCode,
                                    duplicateAcks: $0.duplicateAcks, ackLatencies: $0.ackLatencies, missedTicks: $0.missedTicks)
                   })
    }
}

extension Bench {
    /// Sets up users, conversations and connections for `shape`, runs it, and reports.
    func runMessaging(_ shape: MessagingShape, users: Int, timeout: Double, jsonOut: String?) async throws -> Report {
        let run = RunState(tag: tag, messagesPerSender: shape.messagesPerSender)
        log("\(shape.name): creating \(users) users and tokens")
        let accounts = try await makeUsers(shape.name, count: users)
        log("\(shape.name): creating \(shape.conversations.count) conversations")
        let api = self.api
        let conversationIDs = try await concurrentMap(Array(shape.conversations.enumerated()), limit: 8) { index, members in
            members.count == 2
                ? try await api.openDirect(accounts[members[0]].id, accounts[members[1]].id)
                : try await api.createGroup(name: "bench \(index)", owner: accounts[members[0]].id, members: members.dropFirst().map { accounts[$0].id })
        }
        let peers = makePeers(accounts, run: run)
        log("\(shape.name): connecting \(peers.count) WebSockets")
        let failures = await connectAll(peers)
        guard failures.isEmpty else {
            await closeAll(peers)
            throw BenchError("\(failures.count) of \(peers.count) connections failed; first: \(failures[0])")
        }
        for (senderIndex, assignment) in shape.senders.enumerated() {
            let peer = peers[assignment.peer]
            let conversation = conversationIDs[assignment.conversation]
            let tag = self.tag
            try await peer.loop.submit {
                peer.sender = Sender(index: senderIndex, tag: tag, conversationID: conversation, total: shape.messagesPerSender,
                                     window: shape.window)
            }.get()
        }
        // Let presence and join items settle so they are not counted against the run.
        try await Task.sleep(for: .milliseconds(500))

        let totalSends = shape.senders.count * shape.messagesPerSender
        let membersPerConversation = shape.conversations.map(\.count)
        let senderConversationSize = shape.senders.map { membersPerConversation[$0.conversation] }
        let before = sample()
        let clientCPUBefore = ownCPUSeconds()
        let start = monotonicNanos()
        log("\(shape.name): \(shape.senders.count) senders x \(shape.messagesPerSender) messages")
        for (senderIndex, assignment) in shape.senders.enumerated() {
            let peer = peers[assignment.peer]
            peer.loop.execute {
                guard let sender = peer.sender else { return }
                sender.running = true
                if let rate = shape.ratePerSender {
                    let period = TimeAmount.nanoseconds(Int64(1e9 / rate))
                    let offset = TimeAmount.nanoseconds(Int64(1e9 / rate * Double(senderIndex) / Double(shape.senders.count)))
                    sender.paced = true
                    sender.pacing = peer.loop.scheduleRepeatedTask(initialDelay: offset, delay: period) { _ in peer.tick() }
                } else {
                    peer.pump()
                }
            }
        }

        // Wait until every send is answered and every accepted message reached every member, or time runs out.
        let deadline = start + UInt64(timeout * 1e9)
        var timedOut = false
        var lastProgress = (0, 0)
        var lastProgressAt = monotonicNanos()
        // Every accepted message should reach every member of its conversation (the sender's own connection too).
        let uniformSize = Set(senderConversationSize).count == 1 ? senderConversationSize.first ?? 0 : 0
        while true {
            let settled = run.counters.settled.load(ordering: .relaxed)
            let acked = run.counters.acked.load(ordering: .relaxed)
            let delivered = run.counters.delivered.load(ordering: .relaxed)
            if settled >= totalSends && delivered >= acked * uniformSize { break }
            let now = monotonicNanos()
            if (settled, delivered) != lastProgress {
                lastProgress = (settled, delivered)
                lastProgressAt = now
            }
            if now > deadline || now - lastProgressAt > 20_000_000_000 {
                timedOut = true
                log("\(shape.name): stopped waiting (settled \(settled)/\(totalSends), delivered \(delivered)/\(acked * uniformSize))")
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let after = sample()
        let clientCPU = ownCPUSeconds() - clientCPUBefore
        var results: [PeerResult] = []
        for peer in peers {
            results.append(try await peer.loop.submit { peer.result() }.get())
        }
        await closeAll(peers)

        // Loss: every member of a conversation must hold every acknowledged message of every sender there.
        var ackedBySender: [Int: SeqSet] = [:]
        var ackLastAt: UInt64 = 0
        for result in results {
            if let sender = result.sender {
                ackedBySender[sender.index] = sender.acked
                for (seq, at) in sender.sentAt.enumerated() where sender.acked.contains(seq) { ackLastAt = max(ackLastAt, at) }
            }
        }
        var sendersOfConversation: [Int: [Int]] = [:]
        for (senderIndex, assignment) in shape.senders.enumerated() { sendersOfConversation[assignment.conversation, default: []].append(senderIndex) }
        var lost = 0
        var lostSample: [String] = []
        for (conversation, members) in shape.conversations.enumerated() {
            for member in members {
                for senderIndex in sendersOfConversation[conversation] ?? [] {
                    guard let acked = ackedBySender[senderIndex] else { continue }
                    let received = results[member].received[senderIndex] ?? SeqSet()
                    let missing = received.missing(of: acked)
                    lost += missing
                    if missing > 0 && lostSample.count < 12 {
                        for seq in 0..<shape.messagesPerSender where acked.contains(seq) && !received.contains(seq) && lostSample.count < 12 {
                            // The client_msg_id prefix of the missing message, and who missed it.
                            lostSample.append("B\(tag).\(senderIndex).\(seq). to \(peers[member].user) in \(conversationIDs[conversation])")
                        }
                    }
                }
            }
        }

        let senderResults = results.compactMap(\.sender)
        let sent = senderResults.reduce(0) { $0 + $1.sent }
        let acked = senderResults.reduce(0) { $0 + $1.acked.count }
        var refused: [String: Int] = [:]
        var errors: [String: Int] = [:]
        for result in results {
            result.sender?.refusedByCode.forEach { refused[$0.key, default: 0] += $0.value }
            result.errors.forEach { errors[$0.key, default: 0] += $0.value }
        }
        let deliveries = results.reduce(0) { $0 + $1.recipientDeliveries }
        let echoes = results.reduce(0) { $0 + $1.echoDeliveries }
        let duplicates = results.reduce(0) { $0 + $1.duplicates }
        let end = max(results.map(\.lastDeliveryAt).max() ?? start, ackLastAt, start + 1)
        let elapsed = Double(end - start) / 1e9
        let latency = LatencySummary(results.flatMap(\.latencies))
        let ackLatency = LatencySummary(senderResults.flatMap(\.ackLatencies))

        var report = Report(scenario: shape.name)
        report.set("label", label)
        for (key, value) in shape.details { report.set(key, value) }
        report.set("connections", peers.count)
        report.set("conversations", shape.conversations.count)
        report.set("senders", shape.senders.count)
        report.set("messages_per_sender", shape.messagesPerSender)
        report.set("window", shape.window)
        if let rate = shape.ratePerSender { report.set("rate_msgs_per_s", rate * Double(shape.senders.count), digits: 1) }
        report.set("sent", sent)
        report.set("acked", acked)
        report.set("refused", refused.values.reduce(0, +))
        report.set("refused_by_code", refused)
        report.set("unanswered", sent - acked - refused.values.reduce(0, +))
        report.set("duplicate_acks", senderResults.reduce(0) { $0 + $1.duplicateAcks })
        report.set("elapsed_s", elapsed, digits: 3)
        report.set("msgs_per_s", Double(acked) / elapsed, digits: 1)
        report.set("deliveries", deliveries)
        report.set("deliveries_per_s", Double(deliveries) / elapsed, digits: 1)
        report.set("deliveries_incl_echo", deliveries + echoes)
        report.set("deliveries_incl_echo_per_s", Double(deliveries + echoes) / elapsed, digits: 1)
        report.set("latency_p50_ms", latency.p50, digits: 3)
        report.set("latency_p99_ms", latency.p99, digits: 3)
        report.set("latency_max_ms", latency.max, digits: 3)
        report.set("ack_p50_ms", ackLatency.p50, digits: 3)
        report.set("ack_p99_ms", ackLatency.p99, digits: 3)
        report.set("lost", lost)
        report.set("duplicated", duplicates)
        if !lostSample.isEmpty { report.set("lost_sample", lostSample.joined(separator: "; ")) }
        if shape.ratePerSender != nil { report.set("paced_ticks_skipped", senderResults.reduce(0) { $0 + $1.missedTicks }) }
        report.set("unexpected_closes", results.reduce(0) { $0 + $1.unexpectedCloses })
        report.set("slow_consumer_closes", results.reduce(0) { $0 + $1.slowConsumer })
        report.set("other_errors", errors)
        report.set("timed_out", timedOut)
        addServerFields(&report, before: before, after: after, clientCPU: clientCPU, per: ("msg", acked), ("delivery", deliveries))
        emit(report, jsonOut: jsonOut)
        return report
    }
}
