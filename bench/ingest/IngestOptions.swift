import Foundation

/// What one run of `parley-ingest-bench` measures, from its command line.
struct IngestOptions: Sendable {
    /// Messages (and raw rows) per measured pass.
    var messages = 20_000
    /// Concurrent senders; each sends in its own 1:1 conversation.
    var concurrencies = [1, 8, 32]
    /// Rows per transaction in the batched raw variant.
    var batch = 100
    /// A PostgreSQL server to measure too. The bench creates (and drops) its own databases there.
    var postgresURL: String?
    var sqlite = true
    /// Also send a second pass while the analytics consumer runs, as `parley serve` does.
    var concurrentConsumer = true
    /// Only run `CancelledTransactionRepro` on each engine.
    var reproCancelledTransaction = false
    /// Send through flood and duplicate detection (with limits no pass reaches), as `parley serve` does by default:
    /// what it costs a send (in memory on SQLite, one round trip per message on PostgreSQL, shared across nodes).
    var floodDetection = false

    static let usage = """
        usage: parley-ingest-bench [--messages N] [--concurrency 1,8,32] [--batch 100] [--postgres URL] [--no-sqlite]
                                   [--no-concurrent-consumer] [--flood-detection] [--repro-cancelled-transaction]
          --postgres URL   also measure PostgreSQL; URL names a server (any database on it): the bench creates one
                           database per case (parley_ingest_bench_*) and drops it afterwards
        """

    init(arguments: [String]) throws {
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw OptionError("\(flag) needs a value\n\(Self.usage)") }
            return next
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--messages":
                guard let count = Int(try value(argument)), count > 0 else { throw OptionError("--messages must be a positive number") }
                messages = count
            case "--concurrency":
                let list = try value(argument).split(separator: ",").compactMap { Int($0) }
                guard !list.isEmpty, list.allSatisfy({ $0 > 0 }) else {
                    throw OptionError("--concurrency takes positive numbers, e.g. 1,8,32")
                }
                concurrencies = list
            case "--batch":
                guard let size = Int(try value(argument)), size > 0 else { throw OptionError("--batch must be a positive number") }
                batch = size
            case "--postgres":
                postgresURL = try value(argument)
            case "--no-sqlite":
                sqlite = false
            case "--no-concurrent-consumer":
                concurrentConsumer = false
            case "--flood-detection":
                floodDetection = true
            case "--repro-cancelled-transaction":
                reproCancelledTransaction = true
            case "-h", "--help":
                throw OptionError(Self.usage)
            default:
                throw OptionError("unknown argument \(argument)\n\(Self.usage)")
            }
        }
    }
}

struct OptionError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
