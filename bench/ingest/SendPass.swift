import Foundation
import Identity
import Messaging
import ParleyApp
import ParleyCore

/// Messages persisted through Parley's real send path: `MessagingService.send` with the content policy (sanctions,
/// blocks, the sensitive-word filter; flood detection off), dense seq, feed rows and the event, one transaction per
/// acknowledged message.
struct SendPass: Sendable {
    /// One 1:1 conversation per concurrent sender; the two members take turns sending.
    struct Pair: Sendable {
        let conversationID: String
        let members: (UserID, UserID)
    }

    let services: ParleyServices
    let pairs: [Pair]

    /// Creates `count` pairs of users and the direct conversation of each pair.
    static func setUp(services: ParleyServices, count: Int) async throws -> SendPass {
        var pairs: [Pair] = []
        for index in 0..<count {
            let first = try UserID(validating: "u\(index)a")
            let second = try UserID(validating: "u\(index)b")
            for user in [first, second] {
                _ = try await services.users.upsert(user, profile: try UserProfile(name: user.rawValue, avatarURL: nil, metadata: nil),
                                                    actor: "bench", at: services.clock.now())
            }
            let (conversation, _) = try await services.messaging.openDirect(by: .user(first), user: first, with: second)
            pairs.append(Pair(conversationID: conversation.id, members: (first, second)))
        }
        return SendPass(services: services, pairs: pairs)
    }

    /// Sends `total` messages, split evenly over the pairs, each pair's messages one after another.
    /// `label` keeps client message ids unique across passes.
    ///
    /// With `pipeline` above 1, each sender hands its messages to `MessagingService.sendAll` that many at a time, as the
    /// gateway does with a connection's pipelined sends (one transaction for them); each message's latency is its batch's.
    func run(total: Int, label: String, measuresServer: Bool, pipeline: Int = 1) async throws -> PassResult {
        let shares = Self.split(total, into: pairs.count)
        let meter = Meter(measuresServer: measuresServer)
        let outcomes = try await withThrowingTaskGroup(of: WriterOutcome.self) { group in
            for (index, pair) in pairs.enumerated() {
                group.addTask {
                    pipeline > 1 ? try await sendPipelined(shares[index], in: pair, label: "\(label)-\(index)", batch: pipeline)
                        : try await send(shares[index], in: pair, label: "\(label)-\(index)")
                }
            }
            var all: [WriterOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        return meter.finish(kind: pipeline > 1 ? "parley_send_pipelined" : "parley_send", count: outcomes.reduce(0) { $0 + $1.done },
                            failures: outcomes.reduce(0) { $0 + $1.failures }, firstError: outcomes.compactMap(\.firstError).first,
                            latencies: outcomes.flatMap(\.latencies))
    }

    private func send(_ count: Int, in pair: Pair, label: String) async throws -> WriterOutcome {
        var outcome = WriterOutcome()
        outcome.latencies.reserveCapacity(count)
        for number in 0..<count {
            let sender = number % 2 == 0 ? pair.members.0 : pair.members.1
            let draft = try Self.draft(number, from: sender, in: pair, label: label)
            let start = ContinuousClock.now
            do {
                let receipt = try await services.messaging.send(draft, by: .user(sender))
                if receipt.duplicate { throw OptionError("send \(label)-\(number) was answered as a duplicate") }
                outcome.done += 1
                outcome.latencies.append(Meter.seconds(since: start))
            } catch {
                outcome.failures += 1
                if outcome.firstError == nil { outcome.firstError = String(describing: error) }
            }
        }
        return outcome
    }

    private func sendPipelined(_ count: Int, in pair: Pair, label: String, batch: Int) async throws -> WriterOutcome {
        var outcome = WriterOutcome()
        outcome.latencies.reserveCapacity(count)
        for first in stride(from: 0, to: count, by: batch) {
            // Members take turns per batch: a batch is one connection's pipelined sends.
            let sender = (first / batch) % 2 == 0 ? pair.members.0 : pair.members.1
            let drafts = try (first..<min(first + batch, count)).map { try Self.draft($0, from: sender, in: pair, label: label) }
            let start = ContinuousClock.now
            let outcomes = await services.messaging.sendAll(drafts, by: .user(sender))
            let latency = Meter.seconds(since: start)
            for result in outcomes {
                switch result {
                case .success(let receipt) where !receipt.duplicate:
                    outcome.done += 1
                    outcome.latencies.append(latency)
                case .success:
                    outcome.failures += 1
                    if outcome.firstError == nil { outcome.firstError = "a pipelined send was answered as a duplicate" }
                case .failure(let error):
                    outcome.failures += 1
                    if outcome.firstError == nil { outcome.firstError = String(describing: error) }
                }
            }
        }
        return outcome
    }

    /// Message `number` of a pass, with a client message id unique to the pass.
    static func draft(_ number: Int, from sender: UserID, in pair: Pair, label: String) throws -> MessageDraft {
        try MessageDraft(conversationID: pair.conversationID, clientMsgID: "\(label)-\(number)", kind: .text,
                         body: .object(["text": .string(text(seq: number, sender: sender.rawValue))]))
    }

    /// The same ordinary chat text for a send and for a raw row (about 70 bytes of JSON).
    static func text(seq: Int, sender: String) -> String {
        "Message \(seq) from \(sender): see you at the station at half past six, bring the tickets"
    }

    static func split(_ total: Int, into parts: Int) -> [Int] {
        (0..<parts).map { total / parts + ($0 < total % parts ? 1 : 0) }
    }
}
