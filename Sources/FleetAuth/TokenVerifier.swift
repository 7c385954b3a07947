import Crypto
import CryptoExtras
import FleetCore
import Foundation

/// What a verifier accepts: issuer, audience, clock leeway and the scope or roles it needs.
public struct VerificationRules: Sendable {
    public var issuer: String
    public var audience: String
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (API.md: 60 s).
    public var leeway: Int64

    public init(issuer: String, audience: String, leeway: Int64 = 60) {
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
    }
}

/// Verifies RS256 compact JWTs strictly, mapping each failure to its contract code. The key always
/// comes from the verifier's key set by `kid`; `jku`, `x5u`, `jwk` and `x5c` are never read.
///
/// jwt-kit's `JWTKeyCollection` folds parse and claim failures into one `JWTError` and picks the
/// algorithm from the key; the contract needs a distinct code for each failure and RS256 alone,
/// so parsing is done here and the signature check calls swift-crypto's RSA directly, the same
/// primitive jwt-kit uses.
public struct TokenVerifier: Sendable {
    public let rules: VerificationRules

    public init(rules: VerificationRules) {
        self.rules = rules
    }

    /// Splits and decodes a token; throws `token_malformed` (also for an empty `sub`), `alg_not_allowed`,
    /// `token_unknown_key` (missing kid) or `token_bad_signature` (empty signature). Does not look at
    /// keys or time. The work is `TokenParser`'s (crypto-free, so `make fuzz` can run it).
    public func parse(_ token: String) throws(FleetError) -> ParsedToken {
        try TokenParser.parse(token)
    }

    /// Checks the signature of a parsed token with the key set.
    public func checkSignature(_ parsed: ParsedToken, keys: PublicKeySet) throws(FleetError) {
        guard let key = keys[parsed.kid] else {
            throw FleetError(.tokenUnknownKey, "kid \"\(parsed.kid.prefix(64))\" is not in the key set")
        }
        let signature = _RSA.Signing.RSASignature(rawRepresentation: parsed.signature)
        // Hash the signing input in place (the token's bytes are contiguous after parsing).
        var token = parsed.token
        let digest = token.withUTF8 {
            SHA256.hash(data: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0[..<parsed.signingInputCount])))
        }
        guard key.isValidSignature(signature, for: digest, padding: .insecurePKCS1v1_5) else {
            throw FleetError(.tokenBadSignature, "signature does not verify")
        }
    }

    /// Checks time, issuer and audience.
    public func checkClaims(_ claims: AccessClaims, now: Int64) throws(FleetError) {
        guard claims.exp + rules.leeway > now else {
            throw FleetError(.tokenExpired, "exp \(claims.exp) is \(now - claims.exp) s in the past")
        }
        if claims.nbf > now + rules.leeway {
            throw FleetError(.tokenNotYetValid, "nbf \(claims.nbf) is \(claims.nbf - now) s in the future")
        }
        if claims.iat > now + rules.leeway {
            throw FleetError(.tokenNotYetValid, "iat \(claims.iat) is \(claims.iat - now) s in the future")
        }
        guard claims.iss == rules.issuer else { throw FleetError(.tokenWrongIssuer, "iss is not \(rules.issuer)") }
        guard claims.aud.contains(rules.audience) else {
            throw FleetError(.tokenWrongAudience, "aud does not include \(rules.audience)")
        }
    }

    /// Parse, signature and claims in one call.
    public func verify(_ token: String, keys: PublicKeySet, now: Int64) throws(FleetError) -> AccessClaims {
        let parsed = try parse(token)
        try checkSignature(parsed, keys: keys)
        try checkClaims(parsed.claims, now: now)
        return parsed.claims
    }
}
