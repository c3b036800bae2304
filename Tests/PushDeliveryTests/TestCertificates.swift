import Foundation
import NIOSSL
import ParleyTestSupport

extension TestTLSMaterial {
    /// A TLS server configuration presenting the test leaf certificate (for 127.0.0.1 and localhost).
    func serverConfiguration() throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(leafCertificate.path).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: leafKey.path, format: .pem))
        )
    }
}
