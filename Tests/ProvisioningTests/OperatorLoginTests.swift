import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Provisioning
import Testing

@Suite("Operators: login, creation, failed-login throttling")
struct OperatorLoginTests {
    @Test("login answers an operator token with the role and the configured lifetime")
    func login() async throws {
        try await ProvisioningHarness.run { h in
            let response = try await h.call(
                .post, "/v1/login", json: ["username": "operator", "password": ProvisioningHarness.password])
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let answer = try ProvisioningHarness.object(response)
            #expect(answer["refresh_token"] == nil)
            #expect(answer["token_type"] as? String == "Bearer")
            #expect(answer["expires_in"] as? Int == 900)
            let claims = try ProvisioningHarness.claims(try #require(answer["access_token"] as? String))
            #expect(claims["sub"] as? String == "operator")
            #expect(claims["role"] as? String == "operator")
            #expect(claims["aud"] as? String == "fleetgate-admin")
            #expect(claims["iss"] as? String == "fleetgate")
            let iat = try #require(claims["iat"] as? Int)
            #expect(claims["exp"] as? Int == iat + 900)
            #expect(claims["scope"] == nil && claims["fleet"] == nil)
        }
    }

    @Test("an unknown user and a wrong password get the same 401 invalid_credentials body")
    func sameFailure() async throws {
        try await ProvisioningHarness.run { h in
            let unknown = try await h.call(
                .post, "/v1/login", json: ["username": "nobody", "password": ProvisioningHarness.password])
            let wrong = try await h.call(
                .post, "/v1/login", json: ["username": "admin", "password": "wrong-password-here"])
            for response in [unknown, wrong] {
                #expect(response.status == .unauthorized)
                #expect(ProvisioningHarness.code(response) == "invalid_credentials")
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response.headers[.wwwAuthenticate] != nil)
                #expect(!String(buffer: response.body).contains("$2"))  // no bcrypt hash
            }
            #expect(String(buffer: unknown.body) == String(buffer: wrong.body))
        }
    }

    @Test("after login.maxFailures failures the username is answered 429 rate_limited with Retry-After")
    func throttling() async throws {
        try await ProvisioningHarness.run(configure: {
            $0.loginMaxFailures = 3
            $0.loginLockoutSeconds = 120
        }) { h in
            // Each further failure is answered more slowly (0, 250, 500 ms)...
            for attempt in 0..<3 {
                let start = ContinuousClock.now
                let response = try await h.call(
                    .post, "/v1/login", json: ["username": "admin", "password": "wrong-password-here"])
                let elapsed = ContinuousClock.now - start
                #expect(response.status == .unauthorized)
                #expect(ProvisioningHarness.code(response) == "invalid_credentials")
                #expect(elapsed >= .milliseconds(250 * attempt), "attempt \(attempt) took \(elapsed)")
            }
            // ...then refused outright.
            // Even the right password is refused while locked out.
            let locked = try await h.call(
                .post, "/v1/login", json: ["username": "admin", "password": ProvisioningHarness.password])
            #expect(locked.status == .tooManyRequests)
            #expect(ProvisioningHarness.code(locked) == "rate_limited")
            let retryAfter = try #require(locked.headers[.retryAfter].flatMap(Int.init))
            #expect((1...120).contains(retryAfter))
            // Other usernames are unaffected.
            _ = try await h.login(.viewer)

            h.clock.advance(by: 121)
            _ = try await h.login(.admin)
        }
    }

    @Test("a username no account can have (over 256 bytes) is invalid_credentials and never throttled")
    func hugeUsername() async throws {
        try await ProvisioningHarness.run { h in
            let huge = String(repeating: "a", count: 60_000)
            for _ in 0..<8 {  // more than login.maxFailures: no record is kept, so no 429
                let response = try await h.call(
                    .post, "/v1/login", json: ["username": huge, "password": "wrong-password-here"])
                #expect(response.status == .unauthorized)
                #expect(ProvisioningHarness.code(response) == "invalid_credentials")
            }
        }
    }

    @Test("parallel wrong-password logins for one username: login.maxFailures reach bcrypt, the rest are 429")
    func parallelGuesses() async throws {
        try await ProvisioningHarness.run(configure: {
            $0.loginMaxFailures = 3
            $0.loginLockoutSeconds = 120
            // A bcrypt run of tens of milliseconds: every guess arrives while the first ones are checked.
            $0.bcryptCost = 11
        }) { h in
            let admin = try await h.login()
            let target: [String: Any] = ["username": "target", "password": "a-long-password!", "role": "viewer"]
            try #require(try await h.call(.post, "/v1/operators", token: admin, json: target).status == .created)

            // The harness's client has one connection, which answers in turn: one connection per
            // guess, each opened (and answered once) before any guess is sent.
            let port = try #require(h.client.port)
            let clients = (0..<12).map { _ in TestClient(host: "127.0.0.1", port: port) }
            for client in clients {
                client.connect()
                #expect(try await client.get("/healthz").status == .ok)
            }
            let guess = ByteBuffer(string: #"{"username":"target","password":"wrong-password-here"}"#)
            let answers = try await withThrowingTaskGroup(of: TestClient.Response.self) { group in
                for client in clients {
                    group.addTask {
                        try await client.post("/v1/login", headers: [.contentType: "application/json"], body: guess)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for client in clients { try await client.shutdown() }

            let refused = answers.filter { $0.status == .tooManyRequests }
            #expect(answers.filter { $0.status == .unauthorized }.count == 3)
            #expect(refused.count == 9)
            for answer in refused {
                #expect(answer.body.map { String(buffer: $0) }?.contains(#""code":"rate_limited""#) == true)
                #expect(answer.head.headerFields[.retryAfter].flatMap(Int.init).map { (1...120).contains($0) } == true)
            }
            // Only the three checked guesses cost a bcrypt run and count as failures.
            let metrics = String(buffer: try await h.call(.get, "/metrics").body)
            #expect(metrics.contains(#"fleetgate_logins_total{outcome="failure"} 3"#))
            #expect(metrics.contains(#"fleetgate_logins_total{outcome="throttled"} 9"#))
            // Locked out now, as after three guesses in turn.
            let locked = try await h.call(
                .post, "/v1/login", json: ["username": "target", "password": "a-long-password!"])
            #expect(locked.status == .tooManyRequests)
        }
    }

    @Test("an admin creates operators (201, then 409 for the same username); they can log in")
    func createOperator() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            let body: [String: Any] = ["username": "alice", "password": "a-long-password!", "role": "viewer"]
            let created = try await h.call(.post, "/v1/operators", token: admin, json: body)
            #expect(created.status == .created)
            let answer = try ProvisioningHarness.object(created)
            #expect(answer["username"] as? String == "alice")
            #expect(answer["role"] as? String == "viewer")
            #expect(answer["password"] == nil && answer["password_hash"] == nil)
            #expect(!String(buffer: created.body).contains("$2"))

            let again = try await h.call(.post, "/v1/operators", token: admin, json: body)
            #expect(again.status == .conflict)
            #expect(ProvisioningHarness.code(again) == "conflict")

            let token = try await h.login(username: "alice", password: "a-long-password!")
            #expect(try ProvisioningHarness.claims(token)["role"] as? String == "viewer")
            // Stored as a bcrypt hash of the configured cost.
            #expect(
                try await h.scalar(
                    "SELECT count(*)::int8 FROM operators WHERE username = 'alice' AND password_hash LIKE '$2_$04$%'")
                    == 1)

            let invalid: [[String: Any]] = [
                ["username": "bob", "password": "short", "role": "viewer"],
                ["username": "bob", "password": "a-long-password!", "role": "root"],
                ["username": "has space", "password": "a-long-password!", "role": "viewer"],
                ["username": "bob", "password": String(repeating: "p", count: 73), "role": "viewer"],
                ["username": "bob"],
            ]
            for body in invalid {
                let response = try await h.call(.post, "/v1/operators", token: admin, json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(ProvisioningHarness.code(response) == "invalid_request", "\(body)")
            }
        }
    }

    @Test("an expired operator token is 401 token_expired")
    func expiredOperatorToken() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            h.clock.advance(by: 900 + 61)
            let response = try await h.call(.get, "/v1/devices", token: admin)
            #expect(response.status == .unauthorized)
            #expect(ProvisioningHarness.code(response) == "token_expired")
        }
    }
}
