import FleetAuth
import Testing

@Suite("Access claims: scope is a space-separated list (RFC 8693 §4.2)")
struct AccessClaimsTests {
    func claims(scope: String?) -> AccessClaims {
        AccessClaims(iss: "i", sub: "d", aud: ["a"], iat: 0, nbf: 0, exp: 1, jti: "j", scope: scope)
    }

    @Test(
        "a scope in the list is found, wherever it stands",
        arguments: [
            "telemetry:write", "a telemetry:write", "telemetry:write b", "a  telemetry:write  b", " telemetry:write",
        ]
    )
    func found(_ scope: String) {
        #expect(claims(scope: scope).hasScope("telemetry:write"))
    }

    @Test(
        "a prefix, an extension or a missing scope is not",
        arguments: [
            nil, "", " ", "telemetry", "telemetry:writer", "xtelemetry:write", "telemetry:write:all", "telemetry write",
        ]
    )
    func notFound(_ scope: String?) {
        #expect(!claims(scope: scope).hasScope("telemetry:write"))
    }
}
