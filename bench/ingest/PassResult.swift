import Foundation

/// One timed pass: how many operations (sends, rows or events) completed, how long it took, and what it cost.
struct PassResult: Sendable {
    var kind: String
    var count: Int
    var failures = 0
    var firstError: String?
    var seconds: Double
    /// This process's CPU (user + system) over the pass.
    var processCPU: Double
    /// The PostgreSQL server's CPU over the pass (its processes, read from /proc); nil on SQLite.
    var serverCPU: Double?
    /// Per-operation latencies in seconds (sends and single-row transactions only).
    var latencies: [Double] = []

    var rate: Double { seconds > 0 ? Double(count) / seconds : 0 }

    func percentile(_ fraction: Double) -> Double? {
        guard !latencies.isEmpty else { return nil }
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }

    /// Microseconds of this process's CPU per operation.
    var processCPUPerOp: Double { count > 0 ? processCPU / Double(count) * 1e6 : 0 }
    var serverCPUPerOp: Double? { serverCPU.map { count > 0 ? $0 / Double(count) * 1e6 : 0 } }
    var totalCPUPerOp: Double { processCPUPerOp + (serverCPUPerOp ?? 0) }
}

/// Wall-clock and CPU readings around a pass.
struct Meter: Sendable {
    let measuresServer: Bool
    private let start = ContinuousClock.now
    private let processStart = Meter.processCPU()
    private let serverStart: Double?

    init(measuresServer: Bool) {
        self.measuresServer = measuresServer
        serverStart = measuresServer ? Meter.postgresCPU() : nil
    }

    func finish(kind: String, count: Int, failures: Int = 0, firstError: String? = nil, latencies: [Double] = []) -> PassResult {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let server = serverStart.map { Meter.postgresCPU() - $0 }
        return PassResult(kind: kind, count: count, failures: failures, firstError: firstError, seconds: seconds,
                          processCPU: Meter.processCPU() - processStart, serverCPU: server, latencies: latencies)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// User plus system CPU seconds of this process so far.
    static func processCPU() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// User plus system CPU seconds of every live process named `postgres` (the server and its backends). A backend
    /// that exits between two readings takes its share with it, so this undercounts if connections churn (they do
    /// not here: the pool keeps them).
    static func postgresCPU() -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0.0
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        for entry in entries where entry.allSatisfy(\.isNumber) {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"),
                  stat[stat.index(after: open)..<close] == "postgres" else { continue }
            // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            total += (user + system) / ticks
        }
        return total
    }
}
