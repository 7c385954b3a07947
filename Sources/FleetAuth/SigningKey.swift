import CryptoExtras
import FleetCore
import Foundation

/// An RSA key pair used to sign RS256 tokens, named by its `kid`.
public struct SigningKey: Sendable {
    public let kid: String
    let privateKey: _RSA.Signing.PrivateKey
    /// The same key in the system's libcrypto, which signs faster where it can (SystemRSASigner).
    let systemSigner: SystemRSASigner?

    public init(kid: String, privateKey: _RSA.Signing.PrivateKey) {
        self.kid = kid
        self.privateKey = privateKey
        self.systemSigner = SystemRSASigner(privateKeyDER: privateKey.derRepresentation)
    }

    /// A fresh 2048-bit key with a random kid.
    public static func generate() throws -> SigningKey {
        SigningKey(kid: KeyID.random(), privateKey: try _RSA.Signing.PrivateKey(keySize: .bits2048))
    }

    /// Imports a PEM private key (PKCS#1 or PKCS#8) of at least 2048 bits; refuses a kid that
    /// `KeyID.isValid` does not accept.
    public static func importPEM(_ pem: String, kid: String = KeyID.random()) throws(FleetError) -> SigningKey {
        try KeyID.validate(kid)
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw FleetError(.invalidRequest, "not an RSA private key of 2048 bits or more in PEM form")
        }
        return SigningKey(kid: kid, privateKey: key)
    }

    /// DER of the private key for encrypted storage: PKCS#1, as swift-crypto writes it (loading
    /// accepts PKCS#1 and PKCS#8, so keys stored either way read back).
    public var privateKeyDER: Data { privateKey.derRepresentation }

    public init(kid: String, privateKeyDER: Data) throws {
        self.init(kid: kid, privateKey: try _RSA.Signing.PrivateKey(derRepresentation: privateKeyDER))
    }

    /// The public half as a JWK.
    public var publicJWK: PublicJWK {
        // getKeyPrimitives only fails for keys BoringSSL could not have created.
        let primitives = try! privateKey.publicKey.getKeyPrimitives()
        return PublicJWK(
            kid: kid, n: Base64URL.encode(primitives.modulus), e: Base64URL.encode(primitives.publicExponent))
    }
}

/// Key identifiers: 16 random bytes, base64url, when generated; imported ones must keep to the same
/// alphabet, so a kid never needs escaping in a JWT header, a JWKS or a log line.
public enum KeyID {
    /// The longest kid accepted; a generated one has 22 characters.
    public static let maxLength = 64

    public static func random() -> String {
        Base64URL.encode(RandomBytes.make(16))
    }

    /// True for 1–64 characters of the base64url alphabet (RFC 4648 §5: A-Z a-z 0-9 - _).
    public static func isValid(_ kid: String) -> Bool {
        let utf8 = kid.utf8
        guard (1...maxLength).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                return true
            default: return false
            }
        }
    }

    /// Throws `invalid_request` for a kid that `isValid` refuses; the message does not repeat it.
    public static func validate(_ kid: String) throws(FleetError) {
        guard isValid(kid) else {
            throw FleetError(.invalidRequest, "kid must be 1–\(maxLength) characters of A-Z a-z 0-9 - _")
        }
    }
}
