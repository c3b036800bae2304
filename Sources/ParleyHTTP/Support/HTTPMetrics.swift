import Foundation
import Synchronization

/// Request counts and latency histograms by method, route and status, rendered in Prometheus text format.
///
/// Routes are the registered patterns (`/v1/users/:user_id`), never raw paths, so cardinality stays bounded.
public final class HTTPMetrics: Sendable {
    struct Key: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    struct Series {
        var count: UInt64 = 0
        var sum: Double = 0
        var buckets: [UInt64]
    }

    static let bucketBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private let series = Mutex<[Key: Series]>([:])
    /// Other parts of the process (WebSocket gateway, workers) contribute gauges through this.
    private let gauges = Mutex<[String: @Sendable () -> (help: String, value: Double)]>([:])

    public init() {}

    public func record(method: String, route: String, status: Int, seconds: Double) {
        series.withLock { all in
            let key = Key(method: method, route: route, status: status)
            var entry = all[key] ?? Series(buckets: Array(repeating: 0, count: Self.bucketBounds.count))
            entry.count += 1
            entry.sum += seconds
            for (index, bound) in Self.bucketBounds.enumerated() where seconds <= bound {
                entry.buckets[index] += 1
            }
            all[key] = entry
        }
    }

    /// Registers a gauge read at scrape time.
    public func registerGauge(_ name: String, help: String, value: @escaping @Sendable () -> Double) {
        gauges.withLock { $0[name] = { (help, value()) } }
    }

    public func render() -> String {
        let snapshot = series.withLock { $0 }.sorted { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }
        var out = "# HELP parley_http_requests_total HTTP requests by method, route and status.\n"
        out += "# TYPE parley_http_requests_total counter\n"
        for (key, entry) in snapshot {
            out += "parley_http_requests_total{\(Self.labels(key))} \(entry.count)\n"
        }
        out += "# HELP parley_http_request_duration_seconds HTTP request latency.\n"
        out += "# TYPE parley_http_request_duration_seconds histogram\n"
        for (key, entry) in snapshot {
            let labels = Self.labels(key)
            for (index, bound) in Self.bucketBounds.enumerated() {
                out += "parley_http_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"} \(entry.buckets[index])\n"
            }
            out += "parley_http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(entry.count)\n"
            out += "parley_http_request_duration_seconds_sum{\(labels)} \(entry.sum)\n"
            out += "parley_http_request_duration_seconds_count{\(labels)} \(entry.count)\n"
        }
        for (name, read) in gauges.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            let (help, value) = read()
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(value)\n"
        }
        return out
    }

    static func labels(_ key: Key) -> String {
        "method=\"\(escape(key.method))\",route=\"\(escape(key.route))\",status=\"\(key.status)\""
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
