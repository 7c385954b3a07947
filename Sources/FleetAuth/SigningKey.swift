import CryptoExtras
import FleetCore
import Foundation

/// An RSA key pair used to sign RS256 tokens, named by its `kid`.
public struct SigningKey: Sendable {
    public let kid: String
    let privateKey: _RSA.Signing.PrivateKey

    public init(kid: String, privateKey: _RSA.Signing.PrivateKey) {
        self.kid = kid
        self.privateKey = privateKey
    }

    /// A fresh 2048-bit key with a random kid.
    public static func generate() throws -> SigningKey {
        SigningKey(kid: KeyID.random(), privateKey: try _RSA.Signing.PrivateKey(keySize: .bits2048))
    }

    /// Imports a PEM private key (PKCS#1 or PKCS#8) of at least 2048 bits.
    public static func importPEM(_ pem: String, kid: String = KeyID.random()) throws(FleetError) -> SigningKey {
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw FleetError(.invalidRequest, "not an RSA private key of 2048 bits or more in PEM form")
        }
        return SigningKey(kid: kid, privateKey: key)
    }

    /// PKCS#8 DER of the private key, for encrypted storage.
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

/// Key identifiers: 16 random bytes, base64url.
public enum KeyID {
    public static func random() -> String {
        Base64URL.encode(RandomBytes.make(16))
    }
}
