import Crypto
import CryptoExtras
import FleetCore
import Foundation

/// Signs claims as an RS256 compact JWS (RFC 7515 §7.1) with a given key.
public struct TokenSigner: Sendable {
    public init() {}

    public func sign(_ claims: AccessClaims, with key: SigningKey) throws -> String {
        let header = #"{"alg":"RS256","typ":"JWT","kid":"\#(key.kid)"}"#
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let payload = try encoder.encode(claims)
        let signingInput = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(payload)
        let signature = try key.privateKey.signature(
            for: SHA256.hash(data: Array(signingInput.utf8)),
            padding: .insecurePKCS1v1_5  // RS256 is RSASSA-PKCS1-v1_5 by definition (RFC 7518 §3.3).
        )
        return signingInput + "." + Base64URL.encode(signature.rawRepresentation)
    }

    /// 128 random bits for `jti`.
    public static func randomJTI() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
