// Messages persisted per second through Parley's real send path versus the raw insert rate of the same engine in the
// same run (issue 8), and the analytics consumer's ingest rate against the send rate (issue 7). SQLite always;
// PostgreSQL with `--postgres URL`. How to read the output: bench/ingest/README.md.
import Foundation
import Logging
import ParleyStorage

let options: IngestOptions
do {
    options = try IngestOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}
var logger = Logger(label: "parley-ingest-bench")
logger.logLevel = .warning

var engines: [BenchDatabases] = []
if options.sqlite { engines.append(.sqlite(logger: logger)) }
if let url = options.postgresURL { engines.append(.postgres(url: url, logger: logger)) }

if options.reproCancelledTransaction {
    var reproduced = false
    for databases in engines {
        defer { databases.removeFolder() }
        let line = try await databases.withFreshDatabase(named: "repro") { try await CancelledTransactionRepro.run(on: $0) }
        reproduced = reproduced || line.contains("failed")
        print(line)
    }
    exit(reproduced ? 1 : 0)
}

var results: [IngestCase.Result] = []
for databases in engines {
    defer { databases.removeFolder() }
    for concurrency in options.concurrencies {
        let ingestCase = IngestCase(engine: databases.engine, concurrency: concurrency, options: options, logger: logger)
        let result = try await databases.withFreshDatabase(named: "c\(concurrency)") { database in
            try await ingestCase.run(on: database)
        }
        Report.printCase(result)
        results.append(result)
    }
}
Report.printTable(results, options: options)
if results.contains(where: { !$0.problems.isEmpty }) { exit(1) }
