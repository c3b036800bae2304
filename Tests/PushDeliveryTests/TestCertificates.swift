import Foundation
import NIOSSL

/// A throwaway certificate authority and a server certificate it signed for 127.0.0.1 and localhost, made
/// with the `openssl` command line tool in a temporary folder, once per test run.
struct TestCertificates: Sendable {
    let folder: URL
    var caFile: String { folder.appendingPathComponent("ca.pem").path }
    var leafFile: String { folder.appendingPathComponent("leaf.pem").path }
    var leafKeyFile: String { folder.appendingPathComponent("leaf.key").path }

    static let shared: Result<TestCertificates, StubError> = Result { () throws(StubError) in try make() }

    /// A TLS server configuration presenting the leaf certificate.
    func serverConfiguration() throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(leafFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: leafKeyFile, format: .pem))
        )
    }

    private static func make() throws(StubError) -> TestCertificates {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-push-tls-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try """
            subjectAltName = DNS:localhost, IP:127.0.0.1
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth
            """.write(to: folder.appendingPathComponent("leaf.ext"), atomically: true, encoding: .utf8)
        } catch {
            throw StubError("cannot prepare \(folder.path): \(error)")
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + [
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Parley Push Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ], in: folder)
        try openssl(["req"] + ec + ["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"], in: folder)
        try openssl([
            "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2", "-days", "2",
            "-extfile", "leaf.ext", "-out", "leaf.pem",
        ], in: folder)
        return TestCertificates(folder: folder)
    }

    private static func openssl(_ arguments: [String], in folder: URL) throws(StubError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = folder
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw StubError("cannot run openssl: \(error)")
        }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StubError("openssl \(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))")
        }
    }
}
