import CryptoExtras
import FleetCore
import Foundation

/// One RSA public key in JWK form (RFC 7517 §4, RFC 7518 §6.3.1).
public struct PublicJWK: Sendable, Codable, Equatable {
    public var kty: String = "RSA"
    public var kid: String
    public var use: String = "sig"
    public var alg: String = "RS256"
    public var n: String
    public var e: String

    public init(kid: String, n: String, e: String) {
        self.kid = kid
        self.n = n
        self.e = e
    }
}

/// A JWK Set document (RFC 7517 §5).
public struct JWKSDocument: Sendable, Codable, Equatable {
    public var keys: [PublicJWK]

    public init(keys: [PublicJWK]) {
        self.keys = keys
    }
}

/// The verification keys by kid. Built from a JWKS; keys that are not RSA/RS256 signing keys
/// are skipped, so an attacker-supplied EC or HMAC key can never become a verifier.
public struct PublicKeySet: Sendable {
    let keys: [String: _RSA.Signing.PublicKey]

    public init(_ document: JWKSDocument) {
        var keys: [String: _RSA.Signing.PublicKey] = [:]
        for jwk in document.keys where jwk.kty == "RSA" && jwk.alg == "RS256" && jwk.use == "sig" {
            guard let n = Base64URL.decode(jwk.n), let e = Base64URL.decode(jwk.e),
                let key = try? _RSA.Signing.PublicKey(n: n, e: e), key.keySizeInBits >= 2048
            else { continue }
            keys[jwk.kid] = key
        }
        self.keys = keys
    }

    public var kids: Set<String> { Set(keys.keys) }
    public var isEmpty: Bool { keys.isEmpty }
    public subscript(kid: String) -> _RSA.Signing.PublicKey? { keys[kid] }
}
