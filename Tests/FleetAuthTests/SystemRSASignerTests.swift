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
        let system = try #require(key.systemSigner?.sign(digest: Array(SHA256.hash(data: message))))
        let boring = try key.privateKey.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5)
        #expect(system == Array(boring.rawRepresentation))
        let valid = key.privateKey.publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: system), for: SHA256.hash(data: message),
            padding: .insecurePKCS1v1_5)
        #expect(valid)
    }

    @Test("signatures made at once on many threads, on reused contexts, are each BoringSSL's bytes")
    func concurrentSignatures() async throws {
        let key = try SigningKey.generate()
        let signer = try #require(key.systemSigner)
        let results = await withTaskGroup(of: (Int, [UInt8]?).self) { group in
            for index in 0..<64 {
                group.addTask { (index, signer.sign(digest: Array(SHA256.hash(data: Array("message \(index)".utf8))))) }
            }
            return await group.reduce(into: [Int: [UInt8]?]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 64)
        for (index, signature) in results {
            let expected = try key.privateKey.signature(
                for: SHA256.hash(data: Array("message \(index)".utf8)), padding: .insecurePKCS1v1_5)
            #expect(signature == Array(expected.rawRepresentation), "message \(index)")
        }
    }
}
