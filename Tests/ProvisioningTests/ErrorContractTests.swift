import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Provisioning
import Testing

@Suite("Error codes of the provisioning side and what answers never contain")
struct ErrorContractTests {
    /// A token with the header or claims replaced; the signature stays the original's.
    static func forged(_ token: String, header: [String: Any]? = nil, claims: [String: Any]? = nil) -> String {
        let parts = token.split(separator: ".").map(String.init)
        let h = header.map { Base64URL.encode(try! JSONSerialization.data(withJSONObject: $0)) } ?? parts[0]
        let c = claims.map { Base64URL.encode(try! JSONSerialization.data(withJSONObject: $0)) } ?? parts[1]
        return "\(h).\(c).\(parts[2])"
    }

    @Test("every token failure on an admin endpoint is 401 with its own code and WWW-Authenticate")
    func tokenFailures() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            let claims = try ProvisioningHarness.claims(admin)
            let kid = try ProvisioningHarness.kid(admin)
            var wrongIssuer = claims
            wrongIssuer["iss"] = "someone"
            let device = try #require(try await h.enroll("dev-t", token: admin)["access_token"] as? String)
            let cases: [(String, [String], String)] = [
                ("none", [], "token_missing"),
                ("basic", ["Basic YWRtaW46eA=="], "token_malformed"),
                ("two headers", ["Bearer \(admin)", "Bearer \(admin)"], "token_malformed"),
                ("two parts", ["Bearer a.b"], "token_malformed"),
                ("padding", ["Bearer \(admin)="], "token_malformed"),
                ("alg none", ["Bearer " + Self.forged(admin, header: ["alg": "none", "kid": kid])], "alg_not_allowed"),
                (
                    "alg HS256", ["Bearer " + Self.forged(admin, header: ["alg": "HS256", "kid": kid])],
                    "alg_not_allowed"
                ),
                (
                    "unknown kid", ["Bearer " + Self.forged(admin, header: ["alg": "RS256", "kid": "nope"])],
                    "token_unknown_key"
                ),
                ("bad signature", ["Bearer " + Self.forged(admin, claims: wrongIssuer)], "token_bad_signature"),
                ("device token", ["bearer \(device)"], "token_wrong_audience"),
            ]
            for (name, values, code) in cases {
                var headers = HTTPFields()
                for value in values { headers.append(HTTPField(name: .authorization, value: value)) }
                let response = try await h.client.execute(uri: "/v1/devices", method: .get, headers: headers)
                #expect(response.status == .unauthorized, "\(name)")
                #expect(ProvisioningHarness.code(response) == code, "\(name)")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(name)")
                #expect(response.headers[.contentType] == "application/problem+json", "\(name)")
            }
            // API.md: `Bearer` alone when no token was sent; a password is not one.
            let none = try await h.client.execute(uri: "/v1/devices", method: .get, headers: [:])
            #expect(none.headers[.wwwAuthenticate] == "Bearer")
            let wrongPassword = try await h.call(
                .post, "/v1/login", json: ["username": "admin", "password": "nope-nope"])
            #expect(ProvisioningHarness.code(wrongPassword) == "invalid_credentials")
            #expect(wrongPassword.headers[.wwwAuthenticate] == "Bearer")
            let bad = try await h.call(.get, "/v1/devices", token: admin + "x")
            #expect(bad.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#)
            // Time: expired and not yet valid (the service's clock moves, the token does not).
            h.clock.advance(by: -120)
            let early = try await h.call(.get, "/v1/devices", token: admin)
            #expect(ProvisioningHarness.code(early) == "token_not_yet_valid")
            h.clock.advance(by: 120 + 900 + 61)
            let late = try await h.call(.get, "/v1/devices", token: admin)
            #expect(ProvisioningHarness.code(late) == "token_expired")
        }
    }

    @Test("a token from another issuer is token_wrong_issuer")
    func wrongIssuer() async throws {
        let url = try await TestDatabase.create()
        try await Fixtures.createOperator(
            url: url, username: "admin", password: ProvisioningHarness.password, role: .admin)
        let clock = FakeClock()
        try await ProvisioningHarness.run(clock: clock, databaseURL: url, configure: { $0.issuer = "other" }) { other in
            let foreign = try await other.login()
            try await ProvisioningHarness.run(clock: clock, databaseURL: url) { h in
                let response = try await h.call(.get, "/v1/devices", token: foreign)
                #expect(response.status == .unauthorized)
                #expect(ProvisioningHarness.code(response) == "token_wrong_issuer")
            }
        }
    }

    @Test("a known path asked with another method is method_not_allowed with Allow; a handler's 404 stays 404")
    func methodNotAllowed() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            for (method, path, allow) in [
                (HTTPRequest.Method.get, "/v1/token", "POST"),
                (.put, "/v1/devices/some-id", "DELETE, GET, HEAD"),
                (.get, "/v1/devices/bulk", "POST"),
                (.delete, "/v1/devices", "GET, HEAD, POST"),
                (.head, "/v1/login", "POST"),
            ] {
                let answer = try await h.call(method, path, token: admin)
                #expect(answer.status.code == 405, "\(method) \(path)")
                // A HEAD answer has no body to carry the code.
                if method != .head {
                    #expect(ProvisioningHarness.code(answer) == "method_not_allowed", "\(method) \(path)")
                }
                #expect(answer.headers[.allow] == allow, "\(method) \(path)")
            }
            // An unknown device is the handler's 404, and an unknown path is still the router's.
            let device = try await h.call(.get, "/v1/devices/some-id", token: admin)
            #expect(device.status == .notFound)
            #expect(device.headers[.allow] == nil)
            #expect(try await h.call(.put, "/v1/nothing-here", token: admin).status == .notFound)
            // HEAD of a GET route is the GET answer without a body.
            let head = try await h.call(.head, "/healthz")
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test("JSON endpoints: bad bodies are invalid_request, oversized ones payload_too_large, unknown routes not_found")
    func bodiesAndRoutes() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            let bad = try await h.call(.post, "/v1/login", body: "{", contentType: "application/json")
            #expect(bad.status == .badRequest)
            #expect(ProvisioningHarness.code(bad) == "invalid_request")

            let huge = #"{"id":"x","labels":{"a":""# + String(repeating: "b", count: 70_000) + #""}}"#
            let tooLarge = try await h.call(
                .post, "/v1/devices", token: admin, body: huge, contentType: "application/json")
            #expect(tooLarge.status.code == 413)
            #expect(ProvisioningHarness.code(tooLarge) == "payload_too_large")

            let wrongType = try await h.call(
                .post, "/v1/devices", token: admin, body: #"{"id":"x"}"#, contentType: "text/plain")
            #expect(wrongType.status == .unsupportedMediaType)
            #expect(ProvisioningHarness.code(wrongType) == "unsupported_media_type")
            let loginType = try await h.call(
                .post, "/v1/login", body: #"{"username":"admin","password":"x"}"#, contentType: "text/plain")
            #expect(ProvisioningHarness.code(loginType) == "unsupported_media_type")

            let route = try await h.call(.get, "/v1/nothing-here", token: admin)
            #expect(route.status == .notFound)
            #expect(ProvisioningHarness.code(route) == "not_found")
            let badID = try await h.call(.get, "/v1/devices/bad%20id", token: admin)
            #expect(badID.status == .notFound)
            #expect(ProvisioningHarness.code(badID) == "not_found")
            let badQuery = try await h.call(.get, "/v1/devices/x/telemetry?from=yesterday", token: admin)
            #expect(ProvisioningHarness.code(badQuery) == "invalid_request")
        }
    }

    @Test("the enroll answer is the only place a refresh token appears; errors hold no hash or secret")
    func noLeaks() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            let enrolled = try await h.enroll("leak-1", token: admin)
            let refresh = try #require(enrolled["refresh_token"] as? String)
            let hash = try await withDatabaseHash(h)
            var answers: [TestResponse] = [
                try await h.call(.get, "/v1/devices/leak-1", token: admin),
                try await h.call(.get, "/v1/devices", token: admin),
                try await h.call(.post, "/v1/devices/leak-1/revoke", token: admin),
                try await h.call(.post, "/v1/devices", token: admin, json: ["id": "leak-1"]),
                try await h.call(.get, "/.well-known/jwks.json"),
                try await h.call(.get, "/metrics"),
                try await h.call(.get, "/readyz"),
                try await h.refresh(refresh),
                try await h.call(.post, "/v1/login", json: ["username": "admin", "password": "wrong-password!"]),
                try await h.call(
                    .post, "/v1/operators", token: admin,
                    json: ["username": "admin", "password": ProvisioningHarness.password, "role": "admin"]),
            ]
            answers.append(try await h.call(.post, "/v1/login", body: "{", contentType: "application/json"))
            for answer in answers {
                let text = String(buffer: answer.body)
                #expect(!text.contains(refresh))
                #expect(!text.contains("fgr_"))
                #expect(!text.contains(hash))
                #expect(!text.contains("$2b$") && !text.contains("$2y$") && !text.contains("$2a$"))
                #expect(!text.contains(ProvisioningHarness.password))
                #expect(!text.contains(TestConfigurations.keyEncryptionKey))
                #expect(!text.localizedCaseInsensitiveContains("select "))
                #expect(!text.contains("\"d\""))  // no private JWK member
            }
        }
    }

    /// The stored bcrypt hash of the admin, to look for in answers.
    func withDatabaseHash(_ h: ProvisioningHarness) async throws -> String {
        let hash = try await h.scalarText("SELECT password_hash FROM operators WHERE username = 'admin'")
        try #require(hash.hasPrefix("$2"))
        return hash
    }

    @Test("/metrics counts logins by outcome, tokens issued, enrollments, revocations and rotations")
    func metrics() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            _ = try await h.call(.post, "/v1/login", json: ["username": "admin", "password": "wrong-password!"])
            let refresh = try #require(try await h.enroll("m-1", token: admin)["refresh_token"] as? String)
            _ = try await h.refresh(refresh)
            _ = try await h.call(.post, "/v1/devices/m-1/revoke", token: admin)
            _ = try await h.call(.post, "/v1/keys/rotate", token: admin)
            let response = try await h.call(.get, "/metrics")
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            for line in [
                #"fleetgate_logins_total{outcome="success"} 1"#,
                #"fleetgate_logins_total{outcome="failure"} 1"#,
                #"fleetgate_tokens_issued_total{kind="device"} 2"#,
                #"fleetgate_tokens_issued_total{kind="operator"} 1"#,
                "fleetgate_enrollments_total 1",
                "fleetgate_revocations_total 1",
                "fleetgate_key_rotations_total 1",
            ] {
                #expect(text.contains(line), "\(line)")
            }
        }
    }
}
