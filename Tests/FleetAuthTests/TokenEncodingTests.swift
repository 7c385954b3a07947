import FleetAuth
import FleetCore
import Foundation
import Testing

/// The hand-written encoders on the signing path against Foundation's, byte for byte.
@Suite("Token encoding: claims JSON and base64url written by hand")
struct TokenEncodingTests {
    func foundationJSON(_ claims: AccessClaims) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(claims))
    }

    @Test(
        "claims JSON is what JSONEncoder writes with sorted keys",
        arguments: [
            AccessClaims(
                iss: "fleetgate", sub: "dev-1", aud: ["fleetgate-ingest"], iat: 1_764_400_000, nbf: 1_764_400_000,
                exp: 1_764_400_900, jti: "abc_-123", fleet: "north", scope: "telemetry:write"
            ),
            AccessClaims(
                iss: "https://id.example/a/b", sub: "ops", aud: ["fleetgate-admin", "other"], iat: 0, nbf: -5,
                exp: Int64.max, jti: "j", role: "admin"
            ),
            AccessClaims(
                iss: "q\"uote\\back\nline\ttab\r\u{01}\u{1F}", sub: "ünï-cödé 🚀", aud: [], iat: 1, nbf: 2, exp: 3,
                jti: "", fleet: "", scope: "a b"
            ),
        ]
    )
    func claimsJSON(_ claims: AccessClaims) throws {
        #expect(claims.json == (try foundationJSON(claims)))
    }

    @Test("base64url encoding agrees with Foundation's base64 for every length up to 64")
    func base64URL() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == expected, "length \(length)")
            #expect(Base64URL.decode(expected) == bytes, "length \(length)")
        }
    }

    @Test("jti is 128 random bits, base64url, different every time")
    func jti() {
        let ids = (0..<100).map { _ in TokenSigner.randomJTI() }
        #expect(Set(ids).count == 100)
        for id in ids { #expect(Base64URL.decode(id)?.count == 16) }
    }
}
