import Crypto
import CryptoExtras
import FleetAuth
import FleetCore
import FleetStore
import FleetTestSupport
import Foundation

/// Mints hostile JWTs for the token attack suite: any header text, any claims text, signed by the
/// service's real RS256 key (loaded from the test database) or by keys the attacker made up.
struct AttackTokenForge: Sendable {
    /// How the third segment is produced.
    enum Signature {
        /// RS256 with the service's real key: the claims are what is under test.
        case real
        /// RS256 with an attacker's RSA key.
        case attackerRS256
        case attackerRS384
        case attackerRS512
        case attackerPS256
        case attackerES256
        /// HMAC-SHA256 with the given secret (key confusion: the secret is public key material).
        case hs256(secret: [UInt8])
        /// A given segment, verbatim.
        case segment(String)
    }

    let realKid: String
    let real: _RSA.Signing.PrivateKey
    let attackerRSA: _RSA.Signing.PrivateKey
    let attackerEC: P256.Signing.PrivateKey

    /// Loads the current signing key the way provisioning does, from the sealed key ring.
    static func load(databaseURL: String) async throws -> AttackTokenForge {
        let key = try await withDatabase(url: databaseURL, logger: TestDatabase.logger) { client in
            try await SigningKeyRepository(
                client: client, encryption: try KeyEncryption(base64: TestConfigurations.keyEncryptionKey),
                logger: TestDatabase.logger
            ).currentKey()
        }
        return AttackTokenForge(
            realKid: key.kid,
            real: try _RSA.Signing.PrivateKey(derRepresentation: key.privateKeyDER),
            attackerRSA: try _RSA.Signing.PrivateKey(keySize: .bits2048),
            attackerEC: P256.Signing.PrivateKey()
        )
    }

    /// The real public key as PEM text and DER bytes: what a key-confusion attacker feeds to HMAC.
    var realPublicPEM: [UInt8] { Array(real.publicKey.pemRepresentation.utf8) }
    var realPublicDER: [UInt8] { Array(real.publicKey.derRepresentation) }

    /// The attacker's public key DER in standard base64, as an `x5c` entry carries a certificate.
    var attackerX5C: String { Data(attackerRSA.publicKey.derRepresentation).base64EncodedString() }

    /// The attacker's RSA public key as a JWK object, for `jwk` header injection.
    var attackerJWK: [String: Any] {
        let primitives = try! attackerRSA.publicKey.getKeyPrimitives()
        return [
            "kty": "RSA", "kid": realKid, "use": "sig", "alg": "RS256",
            "n": Base64URL.encode(primitives.modulus), "e": Base64URL.encode(primitives.publicExponent),
        ]
    }

    /// A standard header for `alg` with the real kid, plus `extra` fields.
    func header(alg: String = "RS256", kid: String? = nil, extra: [String: Any] = [:]) -> String {
        var fields: [String: Any] = ["alg": alg, "typ": "JWT", "kid": kid ?? realKid]
        for (name, value) in extra { fields[name] = value }
        return Self.json(fields)
    }

    /// Device claims for `device` that ingest accepts, changed by `set` and without `remove`.
    func deviceClaims(
        _ device: String, set: [String: Any] = [:], remove: [String] = [], now: Int = Int(Date().timeIntervalSince1970)
    ) -> String {
        var fields: [String: Any] = [
            "iss": "fleetgate", "sub": device, "aud": TokenNames.ingestAudience, "iat": now, "nbf": now,
            "exp": now + 3600, "jti": TokenSigner.randomJTI(), "fleet": "default", "scope": TokenNames.telemetryWrite,
        ]
        for (name, value) in set { fields[name] = value }
        for name in remove { fields[name] = nil }
        return Self.json(fields)
    }

    /// Operator claims that provisioning accepts for `role`, changed by `set` and without `remove`.
    func operatorClaims(
        role: String = "admin", set: [String: Any] = [:], remove: [String] = [],
        now: Int = Int(Date().timeIntervalSince1970)
    ) -> String {
        var fields: [String: Any] = [
            "iss": "fleetgate", "sub": "mallory", "aud": TokenNames.adminAudience, "iat": now, "nbf": now,
            "exp": now + 900, "jti": TokenSigner.randomJTI(), "role": role,
        ]
        for (name, value) in set { fields[name] = value }
        for name in remove { fields[name] = nil }
        return Self.json(fields)
    }

    /// A compact JWS of the given header and claims texts.
    func token(header: String? = nil, claims: String, signature: Signature = .real) throws -> String {
        let input = Base64URL.encode(Array((header ?? self.header()).utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + (try sign(input, signature))
    }

    /// The third segment for `input` (`header.claims`).
    func sign(_ input: String, _ signature: Signature) throws -> String {
        let bytes = Array(input.utf8)
        switch signature {
        case .real:
            return Base64URL.encode(
                try real.signature(for: SHA256.hash(data: bytes), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .attackerRS256:
            return Base64URL.encode(
                try attackerRSA.signature(for: SHA256.hash(data: bytes), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .attackerRS384:
            return Base64URL.encode(
                try attackerRSA.signature(for: SHA384.hash(data: bytes), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .attackerRS512:
            return Base64URL.encode(
                try attackerRSA.signature(for: SHA512.hash(data: bytes), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .attackerPS256:
            return Base64URL.encode(
                try attackerRSA.signature(for: SHA256.hash(data: bytes), padding: .PSS).rawRepresentation)
        case .attackerES256:
            return Base64URL.encode(try attackerEC.signature(for: bytes).rawRepresentation)
        case .hs256(let secret):
            return Base64URL.encode(
                Array(HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: secret))))
        case .segment(let text):
            return text
        }
    }

    /// Sorted-key JSON text of a dictionary.
    static func json(_ object: [String: Any]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
