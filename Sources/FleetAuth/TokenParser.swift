import FleetCore
import Foundation

/// The parts of a token that passed the structural checks, before the signature.
public struct ParsedToken: Sendable {
    public let kid: String
    public let claims: AccessClaims
    /// The token itself and the length of its signing input (header, dot, payload) in UTF-8 bytes.
    let token: String
    let signingInputCount: Int
    let signature: [UInt8]
}

/// The crypto-free half of token verification: splits a compact JWS (RFC 7515 §7.1) into its three
/// parts, decodes them strictly and checks the header. Kept apart from `TokenVerifier` (which needs
/// swift-crypto) so that `make fuzz` can build it with plain `swiftc` and run it under libFuzzer.
///
/// It runs on every uncached token, which the contract sets against OpenSSL's verify rate, so it
/// reads one contiguous buffer: dots found by offset, header and claims decoded into stack memory,
/// and no array of Substrings, indices or optional values (each such array costs a runtime
/// metadata lookup as well as an allocation; together they were a quarter of the parse).
public enum TokenParser {
    /// Splits and decodes a token; throws `token_malformed` (also for an empty `sub`),
    /// `alg_not_allowed`, `token_unknown_key` (missing kid) or `token_bad_signature` (empty
    /// signature). Does not look at keys or time.
    public static func parse(_ token: String) throws(FleetError) -> ParsedToken {
        // 8 KiB is far beyond any token we mint (~800 bytes) and stops absurd inputs early.
        guard token.utf8.count <= 8192 else { throw FleetError(.tokenMalformed, "token longer than 8192 bytes") }
        var token = token
        let result = token.withUTF8 { parse(bytes: $0) }
        switch result {
        case .success(let parts):
            return ParsedToken(
                kid: parts.kid, claims: parts.claims, token: token, signingInputCount: parts.signingInputCount,
                signature: parts.signature
            )
        case .failure(let error): throw error
        }
    }

    private struct Parts {
        var kid: String
        var claims: AccessClaims
        var signingInputCount: Int
        var signature: [UInt8]
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Result<Parts, FleetError> {
        do throws(FleetError) {
            return .success(try split(bytes))
        } catch {
            return .failure(error)
        }
    }

    private static func split(_ bytes: UnsafeBufferPointer<UInt8>) throws(FleetError) -> Parts {
        let first = dot(in: bytes, from: 0)
        let second = first.map { dot(in: bytes, from: $0 + 1) } ?? nil
        guard let first, let second, dot(in: bytes, from: second + 1) == nil else {
            let dots = bytes.count { $0 == UInt8(ascii: ".") }
            throw FleetError(.tokenMalformed, "a JWT has three dot-separated parts, this one has \(dots + 1)")
        }
        let headerText = UnsafeBufferPointer(rebasing: bytes[0..<first])
        let payloadText = UnsafeBufferPointer(rebasing: bytes[(first + 1)..<second])
        let signatureText = UnsafeBufferPointer(rebasing: bytes[(second + 1)...])
        let header = try decoded(headerText, what: "header") { Header($0) }
        guard let header else { throw FleetError(.tokenMalformed, "header is not a JSON object of the expected types") }
        let raw = try decoded(payloadText, what: "payload") { RawClaims($0) }
        guard let signature = Base64URL.decode(signatureText) else {
            throw FleetError(.tokenMalformed, "signature is not unpadded base64url")
        }
        guard header.alg == "RS256" else {
            throw FleetError(.algNotAllowed, "alg \"\(header.alg.prefix(16))\" is not allowed; only RS256")
        }
        guard !header.hasCrit else {
            throw FleetError(.tokenMalformed, "no critical header extension is understood (RFC 7515 §4.1.11)")
        }
        guard let kid = header.kid, !kid.isEmpty else { throw FleetError(.tokenUnknownKey, "header has no kid") }
        guard let raw else {
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
        return Parts(kid: kid, claims: claims, signingInputCount: second, signature: signature)
    }

    /// The offset of the first "." at or after `start`, by memchr.
    private static func dot(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress,
            let found = memchr(base + start, Int32(UInt8(ascii: ".")), bytes.count - start)
        else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    /// Decodes a base64url part into stack memory (heap beyond the standard library's stack limit)
    /// and reads it; `token_malformed` when the part is empty or not unpadded base64url.
    private static func decoded<T>(
        _ text: UnsafeBufferPointer<UInt8>, what: String, _ read: (UnsafeBufferPointer<UInt8>) -> T
    ) throws(FleetError) -> T {
        guard let capacity = Base64URL.decodedCapacity(text.count), capacity > 0 else { throw malformed(what) }
        let value = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer -> T? in
            guard let count = Base64URL.decode(text, into: buffer), count > 0 else { return nil }
            return read(UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
        guard let value else { throw malformed(what) }
        return value
    }

    private static func malformed(_ what: String) -> FleetError {
        FleetError(.tokenMalformed, "\(what) is not unpadded base64url")
    }
}

/// The JOSE header fields we read (RFC 7515 §4.1), typed strictly: a known field of the wrong JSON
/// type fails the whole header; `null` counts as absent; other fields are ignored.
private struct Header {
    var alg: String
    var kid: String?
    var hasCrit: Bool

    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        var alg, kid, typ, crit: JSONValue?
        let valid = JSONObjectReader.forEachMember(bytes) { key, value in
            switch key {
            case "alg": keepFirst(&alg, value)
            case "kid": keepFirst(&kid, value)
            case "typ": keepFirst(&typ, value)
            case "crit": keepFirst(&crit, value)
            default: break
            }
        }
        guard valid, case .string(let algName)? = alg else { return nil }
        self.alg = algName
        guard let kid = optionalString(kid), optionalString(typ) != nil else { return nil }
        self.kid = kid.value
        switch crit {
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

    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        var iss, sub, aud, iat, nbf, exp, jti, fleet, scope, role: JSONValue?
        let valid = JSONObjectReader.forEachMember(bytes) { key, value in
            switch key {
            case "iss": keepFirst(&iss, value)
            case "sub": keepFirst(&sub, value)
            case "aud": keepFirst(&aud, value)
            case "iat": keepFirst(&iat, value)
            case "nbf": keepFirst(&nbf, value)
            case "exp": keepFirst(&exp, value)
            case "jti": keepFirst(&jti, value)
            case "fleet": keepFirst(&fleet, value)
            case "scope": keepFirst(&scope, value)
            case "role": keepFirst(&role, value)
            default: break
            }
        }
        guard valid, case .string(let subject)? = sub, case .number(let expiry)? = exp,
            let iss = optionalString(iss), let jti = optionalString(jti),
            let fleet = optionalString(fleet), let scope = optionalString(scope),
            let role = optionalString(role), let iat = optionalNumber(iat),
            let nbf = optionalNumber(nbf)
        else { return nil }
        self.sub = subject
        self.exp = expiry
        self.iss = iss.value
        self.jti = jti.value
        self.fleet = fleet.value
        self.scope = scope.value
        self.role = role.value
        self.iat = iat.value
        self.nbf = nbf.value
        // `aud` is a string or an array of strings (RFC 7519 §4.1.3).
        switch aud {
        case nil, .null?: self.aud = nil
        case .string(let one)?: self.aud = [one]
        case .array(let many)?:
            var values: [String] = []
            for item in many {
                guard case .string(let value) = item else { return nil }
                values.append(value)
            }
            self.aud = values
        default: return nil
        }
    }
}

/// A repeated member keeps its first value, as `JSONDecoder` does.
private func keepFirst(_ slot: inout JSONValue?, _ value: JSONValue) {
    if case .none = slot { slot = value }
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
