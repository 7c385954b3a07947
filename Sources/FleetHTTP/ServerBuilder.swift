import FleetCore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// HTTP/1.1, or HTTPS when a certificate and key are configured.
public enum ServerBuilder {
    public static func make(certificatePath: String?, keyPath: String?) throws -> HTTPServerBuilder {
        guard let certificatePath, let keyPath else { return .http1() }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map {
                NIOSSLCertificateSource.certificate($0)
            }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            return try .tls(.http1(), tlsConfiguration: tls)
        } catch {
            throw FleetError(
                .invalidRequest,
                "settings tls.certificatePath / tls.keyPath do not name a readable PEM certificate and key")
        }
    }
}
