import FleetCore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL

/// HTTP/1.1, or HTTPS when a certificate and key are configured. A connection silent for
/// `idleTimeout`, between requests or in the middle of one (a client that sends its headers or
/// body and then stalls), is closed: Hummingbird has no idle limit by default, so stalled clients
/// would hold their connections, and the in-flight slots of their requests, for ever.
/// `handlers` answer some requests on the event loop before the router (see `HTTP1FastPathChannel`).
public enum ServerBuilder {
    public static func make(
        certificatePath: String?, keyPath: String?, idleTimeout: TimeAmount,
        handlers: (@Sendable () -> [any RemovableChannelHandler])? = nil
    ) throws -> HTTPServerBuilder {
        let http1 =
            if let handlers {
                HTTPServerBuilder.http1(idleTimeout: idleTimeout, handlers: handlers)
            } else {
                HTTPServerBuilder.http1(configuration: .init(idleTimeout: idleTimeout))
            }
        guard let certificatePath, let keyPath else { return http1 }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map {
                NIOSSLCertificateSource.certificate($0)
            }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            return try .tls(http1, tlsConfiguration: tls)
        } catch {
            throw FleetError(
                .invalidRequest,
                "settings tls.certificatePath / tls.keyPath do not name a readable PEM certificate and key")
        }
    }
}
