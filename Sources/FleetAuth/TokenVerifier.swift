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

    /// The parts of a token that passed the structural checks, before the signature.
    public struct ParsedToken: Sendable {
        public let kid: String
        public let claims: AccessClaims
        let signingInput: Substring
        let signature: [UInt8]
    }

    /// Splits and decodes a token; throws `token_malformed`, `alg_not_allowed` or `token_unknown_key`
    /// (missing kid). Does not look at keys or time.
    public func parse(_ token: String) throws(FleetError) -> ParsedToken {
        // 8 KiB is far beyond any token we mint (~800 bytes) and stops absurd inputs early.
        guard token.utf8.count <= 8192 else { throw FleetError(.tokenMalformed, "token longer than 8192 bytes") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw FleetError(.tokenMalformed, "a JWT has three dot-separated parts, this one has \(parts.count)")
        }
        guard let headerBytes = Base64URL.decode(parts[0]), !headerBytes.isEmpty else {
            throw FleetError(.tokenMalformed, "header is not unpadded base64url")
        }
        guard let payloadBytes = Base64URL.decode(parts[1]), !payloadBytes.isEmpty else {
            throw FleetError(.tokenMalformed, "payload is not unpadded base64url")
        }
        guard let signature = Base64URL.decode(parts[2]) else {
            throw FleetError(.tokenMalformed, "signature is not unpadded base64url")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(headerBytes))
        } catch {
            throw FleetError(.tokenMalformed, "header is not a JSON object of the expected types")
        }
        guard header.alg == "RS256" else {
            throw FleetError(.algNotAllowed, "alg \"\(header.alg.prefix(16))\" is not allowed; only RS256")
        }
        guard header.crit == nil else {
            throw FleetError(.tokenMalformed, "no critical header extension is understood (RFC 7515 §4.1.11)")
        }
        guard let kid = header.kid, !kid.isEmpty else { throw FleetError(.tokenUnknownKey, "header has no kid") }
        let raw: RawClaims
        do {
            raw = try JSONDecoder().decode(RawClaims.self, from: Data(payloadBytes))
        } catch {
            throw FleetError(.tokenMalformed, "claims are not a JSON object of RFC 7519 types with exp and sub")
        }
        // NumericDate may be fractional (RFC 7519 §2); anything beyond ±10^12 s is nonsense, not a date.
        func seconds(_ value: Double?) throws(FleetError) -> Int64? {
            guard let value else { return nil }
            guard value.isFinite, abs(value) < 1e12 else {
                throw FleetError(.tokenMalformed, "a time claim is out of range")
            }
            return Int64(value.rounded(.down))
        }
        let claims = AccessClaims(
            iss: raw.iss ?? "", sub: raw.sub, aud: raw.aud?.values ?? [],
            iat: try seconds(raw.iat) ?? 0,
            nbf: try seconds(raw.nbf) ?? 0,
            exp: try seconds(raw.exp) ?? 0, jti: raw.jti ?? "",
            fleet: raw.fleet, scope: raw.scope, role: raw.role
        )
        guard !signature.isEmpty else { throw FleetError(.tokenBadSignature, "signature is empty") }
        return ParsedToken(
            kid: kid, claims: claims, signingInput: token[parts[0].startIndex..<parts[1].endIndex], signature: signature
        )
    }

    /// Checks the signature of a parsed token with the key set.
    public func checkSignature(_ parsed: ParsedToken, keys: PublicKeySet) throws(FleetError) {
        guard let key = keys[parsed.kid] else {
            throw FleetError(.tokenUnknownKey, "kid \"\(parsed.kid.prefix(64))\" is not in the key set")
        }
        let signature = _RSA.Signing.RSASignature(rawRepresentation: parsed.signature)
        let digest = SHA256.hash(data: Array(parsed.signingInput.utf8))
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

private struct Header: Decodable {
    var alg: String
    var kid: String?
    var typ: String?
    var crit: [String]?
}

private struct RawClaims: Decodable {
    var iss: String?
    var sub: String
    var aud: Audience?
    var iat: Double?
    var nbf: Double?
    var exp: Double
    var jti: String?
    var fleet: String?
    var scope: String?
    var role: String?

    /// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
    struct Audience: Decodable {
        var values: [String]
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                values = [one]
            } else {
                values = try container.decode([String].self)
            }
        }
    }
}
