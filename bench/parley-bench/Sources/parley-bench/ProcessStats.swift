import Foundation

/// One reading of a server process from /proc: CPU seconds (utime + stime), resident and peak resident memory.
struct ProcessSample: Sendable {
    var cpuSeconds: Double
    var rssKB: Int
    var peakRSSKB: Int
    var threads: Int

    /// Reads /proc/PID/stat and /proc/PID/status; nil when the process is gone or pid is nil.
    static func read(pid: Int32?) -> ProcessSample? {
        guard let pid,
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "pid (comm) ": state is [0], utime [11], stime [12] (man 5 proc, fields 14 and 15).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func kilobytes(_ key: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(key) {
                return Int(line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "0") ?? 0
            }
            return 0
        }
        return ProcessSample(cpuSeconds: (user + system) / ticks, rssKB: kilobytes("VmRSS:"), peakRSSKB: kilobytes("VmHWM:"),
                             threads: kilobytes("Threads:"))
    }
}
