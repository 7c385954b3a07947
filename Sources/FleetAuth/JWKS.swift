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

    /// Reads every RSA key of the set and passes over the rest: RFC 7517 §5 has a reader ignore
    /// keys it does not understand, and makes `use` and `alg` optional. A set published by another
    /// issuer (an EC key beside the RSA ones, no `alg`) must not fail as a whole.
    public init(from decoder: any Decoder) throws {
        var entries = try decoder.container(keyedBy: CodingKeys.self).nestedUnkeyedContainer(forKey: .keys)
        var keys: [PublicJWK] = []
        while !entries.isAtEnd {
            if let key = try entries.decode(JWKEntry.self).rsaKey { keys.append(key) }
        }
        self.keys = keys
    }
}

/// One member of a JWK Set as published, every field optional; decoding it never fails, so an
/// entry that is not an object (or not a key at all) only yields no key.
private struct JWKEntry: Decodable {
    var rsaKey: PublicJWK?

    private enum CodingKeys: String, CodingKey {
        case kty, kid, use, alg, n, e
    }

    init(from decoder: any Decoder) throws {
        guard let object = try? decoder.container(keyedBy: CodingKeys.self) else { return }
        func text(_ key: CodingKeys) -> String? { (try? object.decodeIfPresent(String.self, forKey: key)) ?? nil }
        guard text(.kty) == "RSA", let kid = text(.kid), let n = text(.n), let e = text(.e) else { return }
        var key = PublicJWK(kid: kid, n: n, e: e)
        // Absent means unrestricted: PublicKeySet then keeps the key for RS256 signatures.
        key.use = text(.use) ?? key.use
        key.alg = text(.alg) ?? key.alg
        rsaKey = key
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
