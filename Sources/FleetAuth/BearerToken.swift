import FleetCore
import Foundation

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
        var utf8 = value
        // Contiguous UTF-8 bytes (makeContiguousUTF8 is free for native strings): plain loops.
        utf8.makeContiguousUTF8()
        let token: String? =
            utf8.utf8.withContiguousStorageIfAvailable { bytes in
                guard let space = bytes.firstIndex(of: UInt8(ascii: " ")), isBearer(bytes[..<space]) else { return nil }
                let rest = UnsafeBufferPointer(rebasing: bytes[(space + 1)...])
                guard !rest.isEmpty, !contains(rest, UInt8(ascii: " ")), !contains(rest, UInt8(ascii: "\t")) else {
                    return ""
                }
                return String(decoding: rest, as: UTF8.self)
            } ?? nil
        guard let token else {
            throw FleetError(.tokenMalformed, "the Authorization scheme must be Bearer")
        }
        guard !token.isEmpty else {
            throw FleetError(.tokenMalformed, "Authorization must be Bearer followed by one space and the token")
        }
        return token
    }

    /// memchr: a byte loop over an ~800-byte token was a third of the cached-token path.
    private static func contains(_ bytes: UnsafeBufferPointer<UInt8>, _ byte: UInt8) -> Bool {
        memchr(bytes.baseAddress!, Int32(byte), bytes.count) != nil
    }

    /// "bearer" in any case, byte by byte (ASCII letters only; `| 0x20` lowercases them).
    private static func isBearer(_ scheme: UnsafeBufferPointer<UInt8>.SubSequence) -> Bool {
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
