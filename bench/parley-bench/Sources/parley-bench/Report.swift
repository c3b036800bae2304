import Foundation

/// One scenario's results, in order: printed as a two-column table and as one JSON line.
struct Report {
    enum Value {
        case int(Int)
        case double(Double, digits: Int)
        case string(String)
        case bool(Bool)
        case counts([String: Int])
        case null
    }

    let scenario: String
    private(set) var fields: [(String, Value)] = []

    init(scenario: String) {
        self.scenario = scenario
        fields.append(("scenario", .string(scenario)))
    }

    mutating func set(_ key: String, _ value: Value) {
        if let index = fields.firstIndex(where: { $0.0 == key }) { fields[index].1 = value } else { fields.append((key, value)) }
    }

    mutating func set(_ key: String, _ value: Int) { set(key, .int(value)) }
    mutating func set(_ key: String, _ value: Double, digits: Int = 2) {
        set(key, value.isFinite ? .double(value, digits: digits) : .null)
    }
    mutating func set(_ key: String, _ value: String) { set(key, .string(value)) }
    mutating func set(_ key: String, _ value: Bool) { set(key, .bool(value)) }
    mutating func set(_ key: String, _ value: [String: Int]) { set(key, .counts(value)) }

    static func text(_ value: Value) -> String {
        switch value {
        case .int(let value): return value.formatted(.number.grouping(.automatic))
        case .double(let value, let digits): return String(format: "%.\(digits)f", value)
        case .string(let value): return value
        case .bool(let value): return value ? "yes" : "no"
        case .counts(let counts): return counts.isEmpty ? "-" : counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        case .null: return "-"
        }
    }

    static func json(_ value: Value) -> String {
        switch value {
        case .int(let value): return String(value)
        case .double(let value, let digits): return String(format: "%.\(digits)f", value)
        case .string(let value): return quote(value)
        case .bool(let value): return value ? "true" : "false"
        case .counts(let counts):
            return "{" + counts.sorted { $0.key < $1.key }.map { "\(quote($0.key)):\($0.value)" }.joined(separator: ",") + "}"
        case .null: return "null"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    var table: String {
        let width = fields.map(\.0.count).max() ?? 10
        var lines = ["== parley-bench \(scenario) =="]
        for (key, value) in fields where key != "scenario" {
            lines.append(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + Self.text(value))
        }
        return lines.joined(separator: "\n")
    }

    var jsonLine: String {
        "{" + fields.map { "\(Self.quote($0.0)):\(Self.json($0.1))" }.joined(separator: ",") + "}"
    }
}

/// Percentiles of microsecond samples, in milliseconds.
struct LatencySummary {
    var count = 0
    var p50 = Double.nan
    var p99 = Double.nan
    var max = Double.nan

    init(_ samples: [UInt32]) {
        guard !samples.isEmpty else { return }
        let sorted = samples.sorted()
        count = sorted.count
        func at(_ fraction: Double) -> Double {
            Double(sorted[Swift.min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]) / 1000
        }
        p50 = at(0.50)
        p99 = at(0.99)
        max = Double(sorted[sorted.count - 1]) / 1000
    }
}
