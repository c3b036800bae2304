import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ParleyCore
import ParleyTestSupport
import Synchronization
import Testing

/// Runs the real `parley` binary, as a user would, and talks to it over HTTP and WebSocket.
@Suite struct EndToEndTests {
    /// The `parley` executable built next to this test bundle.
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("parley")
    }

    final class LogLines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    final class RunningServer: Sendable {
        let process: ChildProcess
        let port: Int
        let dataDirectory: URL
        let output: LogLines

        init(process: ChildProcess, port: Int, dataDirectory: URL, output: LogLines) {
            self.process = process
            self.port = port
            self.dataDirectory = dataDirectory
            self.output = output
        }

        /// Runs a one-shot `parley` command against the same data directory; returns its standard output.
        func command(_ arguments: [String]) throws -> String {
            try ChildProcess.output(of: EndToEndTests.binary.path, arguments + ["--data-dir", dataDirectory.path])
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// The body of a GET as text (`/metrics` is not JSON).
        func text(_ path: String) async throws -> String {
            let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            return String(decoding: data, as: UTF8.self)
        }

        func http(_ method: String, _ path: String, bearer: String? = nil, body: String? = nil) async throws -> (Int, JSONValue) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
            if let body {
                request.httpBody = Data(body.utf8)
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return (status, (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null)
        }
    }

    /// Starts `parley serve --port 0` (on a fresh data folder unless one is given) and waits for its "listening" log line.
    static func startServer(dataDirectory: URL? = nil, environment extra: [String: String] = [:]) async throws -> RunningServer {
        let folder = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("parley-e2e-\(UUID().uuidString)")
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "PARLEY_DATABASE_URL")
        environment.merge(extra) { _, new in new }
        let process = try ChildProcess(binary.path, ["serve", "--port", "0", "--data-dir", folder.path], environment: environment,
                                       standardError: .pipe)
        let output = LogLines()
        let portStream = AsyncStream<Int>.makeStream()
        process.standardError!.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else { return }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                output.append(String(line))
                if line.contains("Parley is listening"), let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)),
                   let url = value["url"]?.stringValue, let port = Int(url.split(separator: ":").last ?? "") {
                    portStream.continuation.yield(port)
                }
            }
        }
        let port = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                var iterator = portStream.stream.makeAsyncIterator()
                guard let port = await iterator.next() else { throw TestDatabaseError("no port") }
                return port
            }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                throw TestDatabaseError("parley serve did not start")
            }
            let port = try await group.next()!
            group.cancelAll()
            return port
        }
        return RunningServer(process: process, port: port, dataDirectory: folder, output: output)
    }

    @Test func theREADMEWalkthroughWorksAgainstTheRealBinaryAndShutdownSaysGoaway() async throws {
        // The SQLite statement report (a developer diagnostic) is written when the server stops.
        let statsFile = FileManager.default.temporaryDirectory.appendingPathComponent("parley-sqlite-stats-\(UUID().uuidString).txt")
        let server = try await Self.startServer(environment: ["PARLEY_SQLITE_STATS": statsFile.path])
        defer {
            if server.process.isRunning { server.process.terminate() }
            try? FileManager.default.removeItem(at: server.dataDirectory)
            try? FileManager.default.removeItem(at: statsFile)
        }
        #expect(FileManager.default.fileExists(atPath: server.dataDirectory.appendingPathComponent("parley.sqlite").path))
        #expect(FileManager.default.fileExists(atPath: server.dataDirectory.appendingPathComponent("secret").path))
        #expect(try await server.http("GET", "/healthz").0 == 200)
        // The process's own gauges are wired into /metrics.
        let metrics = try await server.text("/metrics")
        #expect(metrics.contains("# TYPE parley_ws_connections gauge"))
        #expect(metrics.contains("parley_send_batch_fallbacks 0"))

        let key = try server.command(["apikey", "create", "--scope", "server", "--name", "backend"])
        #expect(key.hasPrefix("prly_"))
        let (created, user) = try await server.http("PUT", "/v1/users/alice", bearer: key,
                                                   body: #"{"name": "Alice", "avatar_url": "https://example.com/alice.png", "metadata": {"plan": "pro"}}"#)
        #expect(created == 201)
        #expect(user["name"] == "Alice")
        let (minted, tokenBody) = try await server.http("POST", "/v1/tokens", bearer: key,
                                                       body: #"{"user_id": "alice", "roles": ["user"], "ttl_seconds": 3600}"#)
        #expect(minted == 201)
        let token = try #require(tokenBody["token"]?.stringValue)
        let (meStatus, me) = try await server.http("GET", "/v1/me", bearer: token)
        #expect(meStatus == 200)
        #expect(me["id"] == "alice")
        // `parley token` works while the server runs on the same SQLite file.
        let devToken = try server.command(["token", "bob"])
        #expect(try await server.http("GET", "/v1/me", bearer: devToken).1["id"] == "bob")

        // A live WebSocket connection gets goaway when the server is asked to stop, and the process exits cleanly.
        let socket = try await TestSocket.open(port: server.port, token: token, viaQuery: false)
        try socket.send(["type": "hello", "id": 1])
        _ = try await socket.next(type: "hello_ok")
        server.process.interrupt()
        let goaway = try await socket.next(type: "goaway", within: 30)
        #expect((goaway["reconnect_after_ms"]?.intValue ?? 0) > 0)
        let deadline = ContinuousClock.now + .seconds(30)
        while server.process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!server.process.isRunning)
        #expect(server.process.terminationStatus == 0)
        socket.close()
        let report = try String(contentsOf: statsFile, encoding: .utf8)
        #expect(report.hasPrefix("writer busy ms\t"))
        #expect(report.contains("\tINSERT INTO identity_users"), "the user upsert is among the statements counted")
    }
}
