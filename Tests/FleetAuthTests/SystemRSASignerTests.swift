import Crypto
import CryptoExtras
import Foundation
import Testing

@testable import FleetAuth

@Suite("RS256 signatures by the system libcrypto")
struct SystemRSASignerTests {
    @Test("the system signer loads the key and makes BoringSSL's exact bytes, which verify")
    func sameBytesAsBoringSSL() throws {
        let key = try SigningKey.generate()
        let message = Array("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZXYifQ".utf8)
        let system = try #require(key.systemSigner?.sign(message))
        let boring = try key.privateKey.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5)
        #expect(system == Array(boring.rawRepresentation))
        let valid = key.privateKey.publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: system), for: SHA256.hash(data: message),
            padding: .insecurePKCS1v1_5)
        #expect(valid)
    }
}
