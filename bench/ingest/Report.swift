import Foundation
import ParleyCore
import ParleyStorage

/// Output: one JSON line per pass and per case on standard output, progress lines on standard error, and a table.
enum Report {
    static let goal = 0.5

    static func printPass(_ pass: PassResult, engine: DatabaseEngine, concurrency: Int) {
        var fields: [String: JSONValue] = [
            "type": "pass", "engine": .string(engine.rawValue), "concurrency": .int(concurrency), "kind": .string(pass.kind),
            "count": .int(pass.count), "failures": .int(pass.failures), "seconds": rounded(pass.seconds, 3),
            "per_second": rounded(pass.rate, 1),
            "process_cpu_us_per_op": rounded(pass.processCPUPerOp, 1),
        ]
        if let server = pass.serverCPUPerOp { fields["server_cpu_us_per_op"] = rounded(server, 1) }
        if let p50 = pass.percentile(0.5), let p99 = pass.percentile(0.99) {
            fields["p50_ms"] = rounded(p50 * 1000, 3)
            fields["p99_ms"] = rounded(p99 * 1000, 3)
        }
        if let error = pass.firstError { fields["first_error"] = .string(error) }
        printJSON(fields)
        var line = "\(engine.rawValue) c=\(concurrency) \(pass.kind): \(pass.count) in \(format(pass.seconds, 2)) s"
            + " = \(format(pass.rate, 0))/s"
        if let p50 = pass.percentile(0.5), let p99 = pass.percentile(0.99) {
            line += ", p50 \(format(p50 * 1000, 2)) ms, p99 \(format(p99 * 1000, 2)) ms"
        }
        line += ", process CPU \(format(pass.processCPUPerOp, 0)) µs/op"
        if let server = pass.serverCPUPerOp { line += ", server CPU \(format(server, 0)) µs/op" }
        if pass.failures > 0 { line += " — \(pass.failures) FAILED: \(pass.firstError ?? "?")" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func printCase(_ result: IngestCase.Result) {
        var fields: [String: JSONValue] = [
            "type": "case", "engine": .string(result.engine.rawValue), "concurrency": .int(result.concurrency),
            "parley_msgs_per_s": rounded(result.send.rate, 1), "raw_rows_per_s": rounded(result.rawRate, 1),
            "raw_rows_per_s_before": rounded(result.rawBefore.rate, 1), "raw_rows_per_s_after": rounded(result.rawAfter.rate, 1),
            "raw_batched_rows_per_s": rounded(result.rawBatched.rate, 1), "ratio": rounded(result.ratio, 4), "goal": .double(goal),
            "send_cpu_us_per_msg": rounded(result.send.totalCPUPerOp, 1), "raw_cpu_us_per_row": rounded(result.rawCPUPerOp, 1),
            "cpu_ratio": rounded(result.cpuRatio, 4),
            "parley_pipelined_msgs_per_s": rounded(result.pipelined.rate, 1), "pipelined_ratio_to_batched_raw": rounded(result.pipelinedRatio, 4),
            "met": .bool(result.ratio >= goal),
            "analytics_events_per_s": rounded(result.consume.rate, 1),
            "analytics_keeps_up": .bool(result.consume.rate >= result.send.rate),
            "problems": .array(result.problems.map { .string($0) }),
        ]
        if let withConsumer = result.sendWithConsumer {
            fields["parley_msgs_per_s_with_consumer"] = rounded(withConsumer.rate, 1)
            fields["slowdown_with_consumer"] = rounded(1 - withConsumer.rate / max(result.send.rate, 1e-9), 4)
        }
        if let maxLag = result.maxLag { fields["consumer_max_lag_events"] = .int(Int(maxLag)) }
        if let lagAtEnd = result.lagAtEnd { fields["consumer_lag_at_end_events"] = .int(Int(lagAtEnd)) }
        if let catchUp = result.catchUp { fields["consumer_catch_up_seconds"] = rounded(catchUp.seconds, 3) }
        printJSON(fields)
    }

    static func printTable(_ results: [IngestCase.Result], options: IngestOptions) {
        print("""

            Ingest: \(options.messages) messages per pass; raw = one INSERT per transaction (mean of the passes before and after \
            the send pass); batched = \(options.batch) rows per transaction; goal Parley/raw ≥ \(goal)

            | engine | senders | Parley msg/s | raw rows/s | ratio | met | batched rows/s | send p50 / p99 ms | \
            CPU µs per send (process + server) | CPU µs per raw row | CPU ratio | analytics events/s | keeps up | \
            msg/s with consumer | max lag | pipelined msg/s (\(options.batch) per sendAll) | pipelined / batched raw |
            |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
            """)
        for result in results {
            let send = result.send
            let latency = "\(format((send.percentile(0.5) ?? 0) * 1000, 2)) / \(format((send.percentile(0.99) ?? 0) * 1000, 1))"
            let cpu = format(send.processCPUPerOp, 0) + (send.serverCPUPerOp.map { " + " + format($0, 0) } ?? "")
            let withConsumer = result.sendWithConsumer.map {
                "\(format($0.rate, 0)) (\(signedPercent($0.rate / max(send.rate, 1e-9) - 1)))"
            } ?? "-"
            print("| \(result.engine.rawValue) | \(result.concurrency) | \(format(send.rate, 0)) | \(format(result.rawRate, 0)) "
                + "(\(format(result.rawBefore.rate, 0)), \(format(result.rawAfter.rate, 0))) | \(format(result.ratio, 3)) | "
                + "\(result.ratio >= goal ? "yes" : "**no**") | \(format(result.rawBatched.rate, 0)) | \(latency) | \(cpu) | "
                + "\(format(result.rawCPUPerOp, 0)) | \(format(result.cpuRatio, 3)) | "
                + "\(format(result.consume.rate, 0)) | \(result.consume.rate >= send.rate ? "yes" : "**no**") | \(withConsumer) | "
                + "\(result.maxLag.map(String.init) ?? "-") | \(format(result.pipelined.rate, 0)) | \(format(result.pipelinedRatio, 3)) |")
        }
        let problems = results.flatMap { result in result.problems.map { "\(result.engine.rawValue) c=\(result.concurrency): \($0)" } }
        print(problems.isEmpty ? "\nChecks: every acknowledged send is stored, logged and counted by analytics."
                               : "\nPROBLEMS:\n" + problems.map { "- " + $0 }.joined(separator: "\n"))
    }

    static func printJSON(_ fields: [String: JSONValue]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(JSONValue.object(fields)) { print(String(decoding: data, as: UTF8.self)) }
    }

    static func rounded(_ value: Double, _ places: Int) -> JSONValue {
        let scale = pow(10, Double(places))
        return .double((value * scale).rounded() / scale)
    }

    static func format(_ value: Double, _ places: Int) -> String {
        String(format: "%.\(places)f", value)
    }

    static func signedPercent(_ fraction: Double) -> String {
        String(format: "%+.0f%%", fraction * 100)
    }
}
