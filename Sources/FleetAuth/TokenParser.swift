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
        // Split on UTF-8 bytes: splitting by Character walks grapheme breaks, ~10 µs for a token.
        var token = token
        token.makeContiguousUTF8()
        let utf8 = token.utf8
        let offsets: [Int] =
            utf8.withContiguousStorageIfAvailable { bytes in
                var found: [Int] = []
                for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: ".") { found.append(offset) }
                return found
            } ?? []
        guard offsets.count == 2 else {
            throw FleetError(.tokenMalformed, "a JWT has three dot-separated parts, this one has \(offsets.count + 1)")
        }
        let dots = offsets.map { utf8.index(utf8.startIndex, offsetBy: $0) }
        let parts = [
            token[token.startIndex..<dots[0]], token[utf8.index(after: dots[0])..<dots[1]],
            token[utf8.index(after: dots[1])..<token.endIndex],
        ]
        guard let headerBytes = Base64URL.decode(parts[0]), !headerBytes.isEmpty else {
            throw FleetError(.tokenMalformed, "header is not unpadded base64url")
        }
        guard let payloadBytes = Base64URL.decode(parts[1]), !payloadBytes.isEmpty else {
            throw FleetError(.tokenMalformed, "payload is not unpadded base64url")
        }
        guard let signature = Base64URL.decode(parts[2]) else {
            throw FleetError(.tokenMalformed, "signature is not unpadded base64url")
        }
        guard let header = Header(headerBytes) else {
            throw FleetError(.tokenMalformed, "header is not a JSON object of the expected types")
        }
        guard header.alg == "RS256" else {
            throw FleetError(.algNotAllowed, "alg \"\(header.alg.prefix(16))\" is not allowed; only RS256")
        }
        guard !header.hasCrit else {
            throw FleetError(.tokenMalformed, "no critical header extension is understood (RFC 7515 §4.1.11)")
        }
        guard let kid = header.kid, !kid.isEmpty else { throw FleetError(.tokenUnknownKey, "header has no kid") }
        guard let raw = RawClaims(payloadBytes) else {
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
            iss: raw.iss ?? "", sub: raw.sub, aud: raw.aud ?? [],
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

/// The JOSE header fields we read (RFC 7515 §4.1), typed strictly: a known field of the wrong JSON
/// type fails the whole header; `null` counts as absent; other fields are ignored.
private struct Header {
    var alg: String
    var kid: String?
    var hasCrit: Bool

    init?(_ bytes: [UInt8]) {
        guard let object = FirstMembers(bytes, keys: ["alg", "kid", "typ", "crit"]) else { return nil }
        guard case .string(let alg)? = object["alg"] else { return nil }
        self.alg = alg
        guard let kid = optionalString(object["kid"]), optionalString(object["typ"]) != nil else { return nil }
        self.kid = kid.value
        switch object["crit"] {
        case nil, .null?: hasCrit = false
        case .array(let names)? where names.allSatisfy({ if case .string = $0 { true } else { false } }): hasCrit = true
        default: return nil
        }
    }
}

/// The claims we read (RFC 7519 §4.1 plus ours), typed strictly; `exp` and `sub` are required.
private struct RawClaims {
    var iss: String?
    var sub: String
    var aud: [String]?
    var iat: Double?
    var nbf: Double?
    var exp: Double
    var jti: String?
    var fleet: String?
    var scope: String?
    var role: String?

    init?(_ bytes: [UInt8]) {
        guard
            let object = FirstMembers(
                bytes, keys: ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "fleet", "scope", "role"])
        else { return nil }
        guard case .string(let sub)? = object["sub"], case .number(let exp)? = object["exp"],
            let iss = optionalString(object["iss"]), let jti = optionalString(object["jti"]),
            let fleet = optionalString(object["fleet"]), let scope = optionalString(object["scope"]),
            let role = optionalString(object["role"]), let iat = optionalNumber(object["iat"]),
            let nbf = optionalNumber(object["nbf"])
        else { return nil }
        self.sub = sub
        self.exp = exp
        self.iss = iss.value
        self.jti = jti.value
        self.fleet = fleet.value
        self.scope = scope.value
        self.role = role.value
        self.iat = iat.value
        self.nbf = nbf.value
        // `aud` is a string or an array of strings (RFC 7519 §4.1.3).
        switch object["aud"] {
        case nil, .null?: aud = nil
        case .string(let one)?: aud = [one]
        case .array(let many)?:
            var values: [String] = []
            for item in many {
                guard case .string(let value) = item else { return nil }
                values.append(value)
            }
            aud = values
        default: return nil
        }
    }
}

/// The first value of each wanted key in a JSON object text (as `JSONDecoder` keeps the first of a
/// repeated key); other members are checked as JSON and dropped. Nil when not a JSON object.
private struct FirstMembers {
    private var values: [JSONValue?]
    private let keys: [String]

    init?(_ bytes: [UInt8], keys: [String]) {
        self.keys = keys
        var values = [JSONValue?](repeating: nil, count: keys.count)
        let valid = JSONObjectReader.forEachMember(bytes) { key, value in
            if let slot = keys.firstIndex(of: key), values[slot] == nil { values[slot] = value }
        }
        guard valid else { return nil }
        self.values = values
    }

    subscript(key: String) -> JSONValue? {
        guard let slot = keys.firstIndex(of: key) else { return nil }
        return values[slot]
    }
}

/// A field that may be absent or null (`.some(nil)`), or a string; nil when of another type.
private struct Field<T> {
    let value: T?
}

private func optionalString(_ value: JSONValue?) -> Field<String>? {
    switch value {
    case nil, .null?: return Field(value: nil)
    case .string(let text)?: return Field(value: text)
    default: return nil
    }
}

private func optionalNumber(_ value: JSONValue?) -> Field<Double>? {
    switch value {
    case nil, .null?: return Field(value: nil)
    case .number(let number)?: return Field(value: number)
    default: return nil
    }
}
