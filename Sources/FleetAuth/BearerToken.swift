import FleetCore

/// Extracts the token from `Authorization` header values (RFC 6750 §2.1): exactly one header,
/// scheme `Bearer` matched without regard to case (RFC 7235 §2.1), one space, then the token.
///
/// Works on UTF-8 bytes: walking an ~800-byte token by `Character` cost 16.5 µs a request,
/// most of the cached-token path (BENCHMARKS.md, "cached token").
public enum BearerToken {
    public static func extract(from authorizationValues: [String]) throws(FleetError) -> String {
        guard let value = authorizationValues.first else {
            throw FleetError(.tokenMissing, "send Authorization: Bearer <token>")
        }
        guard authorizationValues.count == 1 else {
            throw FleetError(.tokenMalformed, "exactly one Authorization header is allowed")
        }
        let utf8 = value.utf8
        let space = utf8.firstIndex(of: UInt8(ascii: " ")) ?? utf8.endIndex
        guard isBearer(utf8[utf8.startIndex..<space]) else {
            throw FleetError(.tokenMalformed, "the Authorization scheme must be Bearer")
        }
        let token = space == utf8.endIndex ? utf8[space...] : utf8[utf8.index(after: space)...]
        guard !token.isEmpty, !token.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) else {
            throw FleetError(.tokenMalformed, "Authorization must be Bearer followed by one space and the token")
        }
        return String(Substring(token))
    }

    /// "bearer" in any case, byte by byte (ASCII letters only; `| 0x20` lowercases them).
    private static func isBearer(_ scheme: Substring.UTF8View) -> Bool {
        let expected: StaticString = "bearer"
        guard scheme.count == expected.utf8CodeUnitCount else { return false }
        var offset = 0
        for byte in scheme {
            guard byte | 0x20 == expected.utf8Start[offset] else { return false }
            offset += 1
        }
        return true
    }
}
