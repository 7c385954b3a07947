import FleetCore
import Foundation

/// The parts of a token that passed the structural checks, before the signature.
public struct ParsedToken: Sendable {
    public let kid: String
    public let claims: AccessClaims
    let signingInput: Substring
    let signature: [UInt8]
}

/// The crypto-free half of token verification: splits a compact JWS (RFC 7515 §7.1) into its three
/// parts, decodes them strictly and checks the header. Kept apart from `TokenVerifier` (which needs
/// swift-crypto) so that `make fuzz` can build it with plain `swiftc` and run it under libFuzzer.
public enum TokenParser {
    /// Splits and decodes a token; throws `token_malformed` (also for an empty `sub`),
    /// `alg_not_allowed`, `token_unknown_key` (missing kid) or `token_bad_signature` (empty
    /// signature). Does not look at keys or time.
    public static func parse(_ token: String) throws(FleetError) -> ParsedToken {
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
        // Every token names its subject; an empty one would pass the structure (found by `make fuzz`).
        guard !raw.sub.isEmpty else { throw FleetError(.tokenMalformed, "sub is empty") }
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
