import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// The thin slice of issue 2, end to end: log in, enroll, post deflated SenML, read it back.
@Suite("Walking skeleton, both services against PostgreSQL")
struct WalkingSkeletonTests {
    static func pack(now: Double = Date().timeIntervalSince1970) -> String {
        #"[{"bn":"boiler/","bt":\#(now),"n":"temp","u":"Cel","v":71.5},"#
            + #"{"n":"pressure","u":"Pa","v":101325,"t":1},{"n":"door_open","vb":false}]"#
    }

    @Test("an enrolled device posts deflated SenML, it is committed and read back")
    func enrollPostReadBack() async throws {
        try await TestStack.run { stack in
            let admin = try await stack.login()
            let device = try await stack.enroll(id: "boiler-1", fleet: "plant-a", operatorToken: admin)
            #expect(device["id"] as? String == "boiler-1")
            #expect(device["fleet"] as? String == "plant-a")
            #expect((device["refresh_token"] as? String)?.hasPrefix("fgr_") == true)
            #expect(device["token_type"] as? String == "Bearer")
            let token = try #require(device["access_token"] as? String)

            let response = try await stack.post(Self.pack(), token: token)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == #"{"accepted":3}"#)
            #expect(try await stack.storedCount(device: "boiler-1") == 3)

            let latest = try await stack.provisioning.execute(
                uri: "/v1/devices/boiler-1/latest", method: .get, headers: [.authorization: "Bearer \(admin)"]
            )
            #expect(latest.status == .ok)
            let records = try #require(
                try JSONSerialization.jsonObject(with: Data(latest.body.readableBytesView)) as? [[String: Any]])
            let byName = Dictionary(uniqueKeysWithValues: records.map { ($0["n"] as! String, $0) })
            #expect(byName["boiler/temp"]?["v"] as? Double == 71.5)
            #expect(byName["boiler/temp"]?["u"] as? String == "Cel")
            #expect(byName["boiler/pressure"]?["v"] as? Double == 101325)
            #expect(byName["boiler/door_open"]?["vb"] as? Bool == false)
        }
    }

    @Test("the device token carries the claims of API.md and its kid is in the JWKS")
    func tokenClaimsAndJWKS() async throws {
        try await TestStack.run { stack in
            let admin = try await stack.login()
            let device = try await stack.enroll(id: "meter-7", fleet: "f1", operatorToken: admin)
            let token = try #require(device["access_token"] as? String)
            let parts = token.split(separator: ".")
            #expect(parts.count == 3)
            let header =
                try JSONSerialization.jsonObject(with: Data(try #require(Base64URL.decode(parts[0])))) as! [String: Any]
            let claims =
                try JSONSerialization.jsonObject(with: Data(try #require(Base64URL.decode(parts[1])))) as! [String: Any]
            #expect(header["alg"] as? String == "RS256")
            #expect(header["typ"] as? String == "JWT")
            let kid = try #require(header["kid"] as? String)
            #expect(claims["iss"] as? String == "fleetgate")
            #expect(claims["sub"] as? String == "meter-7")
            #expect(claims["aud"] as? String == "fleetgate-ingest")
            #expect(claims["fleet"] as? String == "f1")
            #expect(claims["scope"] as? String == "telemetry:write")
            let iat = try #require(claims["iat"] as? Int)
            #expect(claims["exp"] as? Int == iat + 3600)
            #expect(claims["nbf"] as? Int == iat)
            #expect(((claims["jti"] as? String)?.count ?? 0) >= 22)  // 128 bits in base64url

            let jwks = try await stack.provisioning.execute(uri: "/.well-known/jwks.json", method: .get)
            #expect(jwks.status == .ok)
            #expect(jwks.headers[.cacheControl]?.contains("max-age=300") == true)
            let keys = try TestStack.object(jwks.body)["keys"] as! [[String: Any]]
            #expect(
                keys.contains {
                    $0["kid"] as? String == kid && $0["kty"] as? String == "RSA" && $0["alg"] as? String == "RS256"
                })
            #expect(keys.allSatisfy { $0["d"] == nil && $0["p"] == nil })  // public parts only
        }
    }

    @Test("each rejected token of the slice gets its own code and stores nothing")
    func rejectedTokens() async throws {
        try await TestStack.run { stack in
            let admin = try await stack.login()
            let device = try await stack.enroll(id: "probe-1", operatorToken: admin)
            let token = try #require(device["access_token"] as? String)
            let parts = token.split(separator: ".").map(String.init)
            func forged(header: [String: Any]? = nil, claims: [String: Any]? = nil) -> String {
                let h = header.map { Base64URL.encode(try! JSONSerialization.data(withJSONObject: $0)) } ?? parts[0]
                let c = claims.map { Base64URL.encode(try! JSONSerialization.data(withJSONObject: $0)) } ?? parts[1]
                return "\(h).\(c).\(parts[2])"
            }
            let original = try JSONSerialization.jsonObject(with: Data(Base64URL.decode(parts[1])!)) as! [String: Any]
            var wrongAudience = original
            wrongAudience["aud"] = "someone-else"
            let cases: [(String?, String)] = [
                (nil, "token_missing"),
                ("not-a-jwt", "token_malformed"),
                (forged(header: ["alg": "none", "typ": "JWT"]), "alg_not_allowed"),
                (forged(header: ["alg": "HS256", "typ": "JWT", "kid": "x"]), "alg_not_allowed"),
                (forged(header: ["alg": "RS256", "typ": "JWT", "kid": "no-such-key"]), "token_unknown_key"),
                (forged(claims: wrongAudience), "token_bad_signature"),
                (admin, "token_wrong_audience"),
            ]
            for (candidate, code) in cases {
                let response = try await stack.post(Self.pack(), token: candidate)
                #expect(response.status == .unauthorized, "\(code)")
                #expect(TestStack.code(response) == code)
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
            #expect(try await stack.storedCount(device: "probe-1") == 0)
        }
    }

    @Test("health and readiness answer on both services")
    func health() async throws {
        try await TestStack.run { stack in
            for client in [stack.provisioning, stack.ingest] {
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
                let ready = try await client.execute(uri: "/readyz", method: .get)
                #expect(ready.status == .ok)
                #expect(String(buffer: ready.body).contains(#""database":true"#))
            }
        }
    }
}
