import Foundation
import Synchronization

/// A real SMTP server for the tests: `scripts/smtp_sink.py` (aiosmtpd) in a subprocess on 127.0.0.1.
///
/// The Python comes from `PARLEY_TEST_PYTHON` (a path or a command name), else `python3`; it must be able
/// to import aiosmtpd. `./scripts/test` prepares such a Python; without one the tests fail and say how to
/// get it. Every message the sink accepts is written as a JSON file that `messages()` reads back.
public final class SMTPSink: Sendable {
    public struct Options {
        public init(tls: TestTLSMaterial? = nil, requireStartTLS: Bool = false, implicitTLS: Bool = false, authUser: String? = nil,
                    authPassword: String? = nil, authAllowPlaintext: Bool = false, mute: Bool = false, scripted: [String: String]? = nil,
                    closeAfterMessage: Bool = false) {
            self.tls = tls
            self.requireStartTLS = requireStartTLS
            self.implicitTLS = implicitTLS
            self.authUser = authUser
            self.authPassword = authPassword
            self.authAllowPlaintext = authAllowPlaintext
            self.mute = mute
            self.scripted = scripted
            self.closeAfterMessage = closeAfterMessage
        }

        /// Offers STARTTLS with this certificate (or wraps the connection in TLS with `implicitTLS`).
        public var tls: TestTLSMaterial?
        public var requireStartTLS = false
        public var implicitTLS = false
        public var authUser: String?
        public var authPassword: String?
        public var authAllowPlaintext = false
        /// Accepts connections and never answers.
        public var mute = false
        /// A fake server instead of aiosmtpd: command verb (or `greeting`, `DATA_END`) → raw reply text.
        public var scripted: [String: String]?
        /// Closes each connection right after accepting a message on it (as a server that dropped an idle session).
        public var closeAfterMessage = false
    }

    /// What the sink recorded for one accepted message (see the script's docstring).
    public struct ReceivedMail: Decodable, Sendable {
        public var mail_from: String
        public var rcpt_tos: [String]
        public var mail_options: [String]
        public var data_base64: String
        public var tls: Bool
        public var auth_user: String?
        public var subject: String?
        public var from: String?
        public var to: String?
        public var text: String?
        public var html: String?
        public var content_type: String?
        public var parse_error: String?
        /// The client's address and port: one per connection.
        public var peer: String?

        public var data: Data { Data(base64Encoded: data_base64) ?? Data() }
    }

    public let port: Int
    public let directory: URL
    /// Its standard input is a pipe kept open while the sink runs: the sink exits when it closes, even if this process dies.
    private let process: ChildProcess
    private let logURL: URL

    public static var python: String {
        let configured = ProcessInfo.processInfo.environment["PARLEY_TEST_PYTHON"] ?? ""
        return configured.isEmpty ? "python3" : configured
    }

    static let scriptURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/smtp_sink.py")

    /// Starts a sink, runs `body`, and stops the sink whatever happens.
    public static func with<T>(_ options: Options = Options(), _ body: (SMTPSink) async throws -> T) async throws -> T {
        let sink = try await SMTPSink(options)
        defer { sink.stop() }
        return try await body(sink)
    }

    private init(_ options: Options) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-smtp-\(UUID().uuidString)")
        let outbox = directory.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: outbox, withIntermediateDirectories: true)
        logURL = directory.appendingPathComponent("sink.log")
        try Data().write(to: logURL)

        var arguments = [Self.python, Self.scriptURL.path, "--out", outbox.path]
        if let tls = options.tls { arguments += ["--tls-cert", tls.leafCertificate.path, "--tls-key", tls.leafKey.path] }
        if options.requireStartTLS { arguments.append("--require-starttls") }
        if options.implicitTLS { arguments.append("--implicit-tls") }
        if let user = options.authUser { arguments += ["--auth-user", user, "--auth-password", options.authPassword ?? ""] }
        if options.authAllowPlaintext { arguments.append("--auth-allow-plaintext") }
        if options.mute { arguments.append("--mute") }
        if options.closeAfterMessage { arguments.append("--close-after-message") }
        if let scripted = options.scripted {
            arguments += ["--scripted", String(decoding: try JSONEncoder().encode(scripted), as: UTF8.self)]
        }

        do {
            process = try ChildProcess("/usr/bin/env", arguments, standardInput: .pipe, standardOutput: .pipe, standardError: .file(logURL))
        } catch {
            throw SMTPSinkError(Self.missingPythonAdvice("could not run \(Self.python): \(error)"))
        }
        do {
            port = try await Self.waitForPort(process.standardOutput!, process: process)
        } catch {
            let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            Self.stop(process)
            if log.contains("No module named") || log.contains("No such file or directory") || log.contains("not found") {
                throw SMTPSinkError(Self.missingPythonAdvice(log))
            }
            throw SMTPSinkError("the SMTP sink did not start: \(error)\n\(log)")
        }
    }

    /// Every message the sink accepted so far, oldest first.
    public func messages() throws -> [ReceivedMail] {
        let outbox = directory.appendingPathComponent("mail")
        let files = try FileManager.default.contentsOfDirectory(at: outbox, includingPropertiesForKeys: [.contentModificationDateKey])
            .filter { $0.pathExtension == "json" && !$0.lastPathComponent.hasPrefix(".") }
        let dated = try files.map { file in
            (file, try file.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate ?? .distantPast)
        }
        return try dated.sorted { $0.1 < $1.1 }.map { file, _ in
            try JSONDecoder().decode(ReceivedMail.self, from: Data(contentsOf: file))
        }
    }

    /// The command lines a `scripted` sink received, in order.
    public func commands() -> [String] {
        let log = directory.appendingPathComponent("mail/commands.log")
        return ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// What the sink wrote to stderr (aiosmtpd's log), for failure messages.
    public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Stops the sink (SIGTERM, then SIGKILL after two seconds) and removes its files.
    public func stop() {
        Self.stop(process)
        try? FileManager.default.removeItem(at: directory)
    }

    private static func stop(_ process: ChildProcess) {
        process.stop(grace: 2)
        try? process.standardInput?.close()
    }

    private static func missingPythonAdvice(_ detail: String) -> String {
        """
        The SMTP tests need a Python that can import aiosmtpd (tried '\(python)'; set PARLEY_TEST_PYTHON to choose one).
        Run ./scripts/test, which prepares one, or:
            python3 -m venv /tmp/parley-test-venv && /tmp/parley-test-venv/bin/pip install aiosmtpd
            export PARLEY_TEST_PYTHON=/tmp/parley-test-venv/bin/python
        Details: \(detail)
        """
    }

    /// Reads the sink's stdout until it prints `PORT <n>`; fails if it exits first or takes over 20 seconds.
    private static func waitForPort(_ handle: FileHandle, process: ChildProcess) async throws -> Int {
        let reader = PortLineReader()
        let pid = process.processIdentifier
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(20))
            if !Task.isCancelled { kill(pid, SIGTERM) }
        }
        defer { watchdog.cancel() }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            handle.readabilityHandler = { handle in
                guard let outcome = reader.consume(handle.availableData) else { return }
                handle.readabilityHandler = nil
                continuation.resume(with: outcome)
            }
        }
    }
}

/// Collects the sink's stdout until the `PORT <n>` line; answers once.
private final class PortLineReader: Sendable {
    private let state = Mutex<(output: String, finished: Bool)>(("", false))

    /// The outcome when `chunk` completes it (a port, or end of output without one), else nil.
    func consume(_ chunk: Data) -> Result<Int, any Error>? {
        state.withLock { state in
            guard !state.finished else { return nil }
            if chunk.isEmpty {
                state.finished = true
                return .failure(SMTPSinkError("the sink exited before printing its port"))
            }
            state.output += String(decoding: chunk, as: UTF8.self)
            guard let line = state.output.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }),
                  let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) else { return nil }
            state.finished = true
            return .success(port)
        }
    }
}

struct SMTPSinkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A throwaway certificate authority and a leaf certificate for 127.0.0.1 and localhost, made with the
/// `openssl` command once per test run.
public struct TestTLSMaterial: Sendable {
    public var directory: URL
    public var caCertificate: URL { directory.appendingPathComponent("ca.pem") }
    public var leafCertificate: URL { directory.appendingPathComponent("leaf.pem") }
    public var leafKey: URL { directory.appendingPathComponent("leaf.key") }
    public var caPEM: String { (try? String(contentsOf: caCertificate, encoding: .utf8)) ?? "" }

    static let shared: Result<TestTLSMaterial, SMTPSinkError> = {
        do { return .success(try generate()) } catch { return .failure(SMTPSinkError("could not make test certificates: \(error)")) }
    }()

    public static func make() throws -> TestTLSMaterial { try shared.get() }

    private static func generate() throws -> TestTLSMaterial {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-test-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let extensions = """
            subjectAltName=IP:127.0.0.1,DNS:localhost
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth
            """
        try extensions.write(to: directory.appendingPathComponent("leaf.ext"), atomically: true, encoding: .utf8)
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509", "-new"] + ec + ["-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "2",
                    "-subj", "/CN=Parley Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try openssl(["req", "-new"] + ec + ["-keyout", file("leaf.key"), "-out", file("leaf.csr"), "-subj", "/CN=localhost"])
        try openssl(["x509", "-req", "-in", file("leaf.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial",
                     "-out", file("leaf.pem"), "-days", "2", "-extfile", file("leaf.ext")])
        return TestTLSMaterial(directory: directory)
    }

    private static func openssl(_ arguments: [String]) throws {
        do {
            _ = try ChildProcess.output(of: "/usr/bin/env", ["openssl"] + arguments)
        } catch {
            throw SMTPSinkError("\(error)")
        }
    }
}

/// A loopback port nothing listens on (bound by Python, then released).
public func unusedLoopbackPort() throws -> Int {
    let output = try ChildProcess.output(of: "/usr/bin/env", [
        SMTPSink.python, "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()",
    ])
    guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw SMTPSinkError("could not find a free port")
    }
    return port
}
