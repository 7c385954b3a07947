import Crypto
import CryptoExtras
import FleetCore
import Foundation

/// Signs claims as an RS256 compact JWS (RFC 7515 §7.1) with a given key.
public struct TokenSigner: Sendable {
    public init() {}

    public func sign(_ claims: AccessClaims, with key: SigningKey) throws -> String {
        var token: [UInt8] = []
        token.reserveCapacity(768)
        Base64URL.append(Self.header(kid: key.kid), to: &token)
        token.append(UInt8(ascii: "."))
        Base64URL.append(claims.json, to: &token)
        let signature = try Self.signature(of: token, with: key)
        token.append(UInt8(ascii: "."))
        Base64URL.append(signature, to: &token)
        return String(decoding: token, as: UTF8.self)
    }

    /// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 by definition (RFC 7518 §3.3). Both libraries make
    /// the same bytes (the padding is deterministic); the system one is faster where it exists.
    static func signature(of signingInput: [UInt8], with key: SigningKey) throws -> [UInt8] {
        let digest = SHA256.hash(data: signingInput)
        if let signature = key.systemSigner?.sign(digest: Array(digest)) { return signature }
        return Array(try key.privateKey.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
    }

    /// The JOSE header. Kids are checked on import (`KeyID.isValid`), but a key stored before that
    /// check could hold any text, so the kid is escaped rather than pasted into the JSON.
    static func header(kid: String) -> [UInt8] {
        var header = Array(#"{"alg":"RS256","typ":"JWT","kid":"#.utf8)
        JSONStringWriter.append(kid, to: &header)
        header.append(UInt8(ascii: "}"))
        return header
    }

    /// 128 random bits for `jti`.
    public static func randomJTI() -> String {
        Base64URL.encode(RandomBytes.make(16))
    }
}
