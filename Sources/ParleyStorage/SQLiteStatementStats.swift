import Foundation
import Synchronization

/// A developer diagnostic for SQLite: how often each statement ran and how long it took, and how long the one
/// writer was busy (the bottleneck under load). Off unless `PARLEY_SQLITE_STATS` names a file; the report is
/// written there when the database closes (`parley serve` stopping). This is how the statement work of a send
/// was found and cut (bench/README.md, session 5): run a benchmark shape against a server started with it.
///
/// Times are wall-clock inside the call, so a thread descheduled mid-statement counts; read them as shares.
enum SQLiteStatementStats {
    static let reportPath: String? = ProcessInfo.processInfo.environment["PARLEY_SQLITE_STATS"].flatMap { $0.isEmpty ? nil : $0 }
    static let enabled = reportPath != nil

    private struct Totals {
        var statements: [String: (count: Int, nanoseconds: Int)] = [:]
        var writerBusyNanoseconds = 0
    }

    private static let totals = Mutex(Totals())

    /// Records one run of `sql` that began at `start`.
    static func recordStatement(_ sql: String, since start: ContinuousClock.Instant) {
        let elapsed = nanoseconds(ContinuousClock.now - start)
        totals.withLock { totals in
            let previous = totals.statements[sql] ?? (0, 0)
            totals.statements[sql] = (previous.count + 1, previous.nanoseconds + elapsed)
        }
    }

    /// Records time the writer connection spent running a transaction body or a COMMIT.
    static func recordWriterBusy(since start: ContinuousClock.Instant) {
        let elapsed = nanoseconds(ContinuousClock.now - start)
        totals.withLock { $0.writerBusyNanoseconds += elapsed }
    }

    /// Writes the report (statements by total time, most first) to `reportPath`.
    static func writeReport() {
        guard let reportPath else { return }
        let snapshot = totals.withLock { $0 }
        var text = "writer busy ms\t\(snapshot.writerBusyNanoseconds / 1_000_000)\n\ncount\ttotal µs\tstatement\n"
        for (sql, entry) in snapshot.statements.sorted(by: { $0.value.nanoseconds > $1.value.nanoseconds }) {
            let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            text += "\(entry.count)\t\(entry.nanoseconds / 1_000)\t\(oneLine)\n"
        }
        try? text.write(toFile: reportPath, atomically: true, encoding: .utf8)
    }

    private static func nanoseconds(_ duration: Duration) -> Int {
        let parts = duration.components
        return Int(parts.seconds) * 1_000_000_000 + Int(parts.attoseconds / 1_000_000_000)
    }
}
