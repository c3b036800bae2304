import Crypto
import Foundation
import Logging
import Moderation
import ParleyApp
import ParleyCore
import ParleyStorage
import SQLKit

/// Everything measured for one engine at one concurrency, on a fresh database.
struct IngestCase: Sendable {
    let engine: DatabaseEngine
    let concurrency: Int
    let options: IngestOptions
    let logger: Logger

    struct Result: Sendable {
        var engine: DatabaseEngine
        var concurrency: Int
        var rawBefore: PassResult
        var rawBatched: PassResult
        var send: PassResult
        /// Sends handed to `sendAll` `batch` at a time (a connection's pipelined sends), against `rawBatched`.
        var pipelined: PassResult
        var rawAfter: PassResult
        var consume: PassResult
        /// The second send pass, with the analytics consumer running beside it.
        var sendWithConsumer: PassResult?
        var maxLag: Int64?
        var lagAtEnd: Int64?
        var catchUp: PassResult?
        /// Anything that did not add up (failed sends, missing rows, analytics counting other than what was sent).
        var problems: [String]

        /// The raw single-row rate, as the mean of the passes before and after the send pass.
        var rawRate: Double { (rawBefore.rate + rawAfter.rate) / 2 }
        var ratio: Double { rawRate > 0 ? send.rate / rawRate : 0 }
        /// CPU (this process plus the PostgreSQL server) per raw row and per send: steadier than wall-clock rates on a
        /// shared machine, and their ratio is the rate ratio the engine would reach if CPU were the only limit.
        var rawCPUPerOp: Double { (rawBefore.totalCPUPerOp + rawAfter.totalCPUPerOp) / 2 }
        var cpuRatio: Double { send.totalCPUPerOp > 0 ? rawCPUPerOp / send.totalCPUPerOp : 0 }
        /// Pipelined sends against raw rows inserted as many per transaction.
        var pipelinedRatio: Double { rawBatched.rate > 0 ? pipelined.rate / rawBatched.rate : 0 }
    }

    /// Flood detection that inspects and records every message like the default, with limits no pass reaches.
    static var unreachableFloodLimits: FloodSettings {
        var settings = FloodSettings()
        settings.senderLimit = 1_000_000_000
        settings.conversationLimit = 1_000_000_000
        settings.campaignConversations = 1_000_000_000
        settings.mentionLimit = 1_000_000_000
        return settings
    }

    func run(on database: Database) async throws -> Result {
        let measuresServer = engine == .postgres
        let services = ParleyServices(database: database, secret: SymmetricKey(size: .bits256),
                                      floodSettings: options.floodDetection ? Self.unreachableFloodLimits : nil, logger: logger)
        _ = try await services.migrate()
        let sends = try await SendPass.setUp(services: services, count: concurrency)
        let analytics = AnalyticsIngest(services: services, logger: logger)
        _ = try await analytics.drain(measuresServer: false)  // the setup's own events (users, conversations)

        let raw = RawInserts(database: database, ids: services.ids)
        let rawBefore = try await raw.run(total: options.messages, concurrency: concurrency, perTransaction: 1,
                                          measuresServer: measuresServer)
        report(rawBefore)
        let rawBatched = try await raw.run(total: options.messages, concurrency: concurrency, perTransaction: options.batch,
                                           measuresServer: measuresServer)
        report(rawBatched)
        let statsBefore = measuresServer ? try await PostgresTableStats.read(database) : nil
        let send = try await sends.run(total: options.messages, label: "a", measuresServer: measuresServer)
        report(send)
        if let statsBefore {
            let lines = try await PostgresTableStats.read(database).perMessage(since: statsBefore, messages: send.count)
            FileHandle.standardError.write(Data(lines.map { "  postgres c=\(concurrency) send pass, \($0)\n" }.joined().utf8))
        }
        let pipelined = try await sends.run(total: options.messages, label: "p", measuresServer: measuresServer, pipeline: options.batch)
        report(pipelined)
        let rawAfter = try await raw.run(total: options.messages, concurrency: concurrency, perTransaction: 1,
                                         measuresServer: measuresServer)
        report(rawAfter)
        try await database.sql.raw("DROP TABLE \(unsafeRaw: RawInserts.table)").run()
        let consume = try await analytics.drain(measuresServer: measuresServer)
        report(consume)

        var result = Result(engine: engine, concurrency: concurrency, rawBefore: rawBefore, rawBatched: rawBatched, send: send,
                            pipelined: pipelined, rawAfter: rawAfter, consume: consume, problems: [])
        if options.concurrentConsumer {
            let (withConsumer, maxLag, lagAtEnd) = try await analytics.whileConsuming {
                var pass = try await sends.run(total: options.messages, label: "b", measuresServer: measuresServer)
                pass.kind = "parley_send_with_consumer"
                return pass
            }
            report(withConsumer)
            let catchUp = try await analytics.drain(kind: "analytics_catch_up", measuresServer: measuresServer)
            report(catchUp)
            result.sendWithConsumer = withConsumer
            result.maxLag = maxLag
            result.lagAtEnd = lagAtEnd
            result.catchUp = catchUp
        }
        result.problems = try await check(result, services: services, analytics: analytics)
        return result
    }

    /// Checks that what was acknowledged is what is stored, logged and counted.
    private func check(_ result: Result, services: ParleyServices, analytics: AnalyticsIngest) async throws -> [String] {
        var problems: [String] = []
        for pass in [result.rawBefore, result.rawBatched, result.send, result.pipelined, result.rawAfter]
            + [result.sendWithConsumer].compactMap({ $0 })
        where pass.failures > 0 {
            problems.append("\(pass.kind): \(pass.failures) failed, first: \(pass.firstError ?? "?")")
        }
        let sent = result.send.count + result.pipelined.count + (result.sendWithConsumer?.count ?? 0)
        let stored = try await count("SELECT COUNT(*) AS n FROM messaging_items WHERE kind = 'text'", on: services.database)
        let logged = try await count("SELECT COUNT(*) AS n FROM events_log WHERE type = 'message.created'", on: services.database)
        let counted = try await analytics.countedMessages()
        if stored != sent { problems.append("\(sent) sends acknowledged but \(stored) text items stored") }
        if logged != sent { problems.append("\(sent) sends acknowledged but \(logged) message.created events logged") }
        if counted != sent { problems.append("\(sent) sends acknowledged but analytics counts \(counted) messages") }
        let lag = try await analytics.lag()
        if lag != 0 { problems.append("analytics still \(lag) events behind after draining") }
        return problems
    }

    private func count(_ query: String, on database: Database) async throws -> Int {
        try await database.sql.raw(SQLQueryString(query)).first()?.decode(column: "n", as: Int.self) ?? -1
    }

    private func report(_ pass: PassResult) {
        Report.printPass(pass, engine: engine, concurrency: concurrency)
    }
}
