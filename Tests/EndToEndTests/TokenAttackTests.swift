import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Ingest
import NIOCore
import Testing

/// Issue 6, token attack suite: every forged, mangled or misdirected token gets its contract code
/// (API.md "Errors" and "Tokens") with `WWW-Authenticate`, and nothing is stored.
@Suite("Token attacks against live ingest and provisioning")
struct TokenAttackTests {
    /// One attack: the `Authorization` values sent and the answer the contract requires.
    struct Attack {
        let name: String
        let authorization: [String]
        let code: String
        var status: HTTPResponse.Status = .unauthorized
    }

    /// One attack on a control-plane endpoint.
    struct AdminAttack {
        let name: String
        let method: HTTPRequest.Method
        let uri: String
        let token: String
        let code: String
        var status: HTTPResponse.Status = .unauthorized
    }

    static let victim = "victim-1"

    /// Checks the contract's shape of a token rejection.
    static func expectRejected(_ response: TestResponse, status: HTTPResponse.Status, code: String, _ name: String) {
        #expect(response.status == status, "\(name): status")
        #expect(TestStack.code(response) == code, "\(name): code \(TestStack.code(response) ?? "none")")
        #expect(response.headers[.contentType] == "application/problem+json", "\(name): content type")
        let challenge = response.headers[.wwwAuthenticate] ?? ""
        #expect(challenge.hasPrefix("Bearer"), "\(name): WWW-Authenticate")
        switch code {
        case "token_missing": #expect(!challenge.contains("error="), "\(name): bare challenge")
        case "insufficient_scope": #expect(challenge.contains(#"error="insufficient_scope""#), "\(name)")
        default: #expect(challenge.contains(#"error="invalid_token""#), "\(name): invalid_token challenge")
        }
    }

    @Test("forged, mangled and misdirected tokens at ingest are refused with their code; nothing is stored")
    func ingestAttacks() async throws {
        try await TestStack.run { stack in
            let admin = try await stack.login()
            let enrolled = try await stack.enroll(id: Self.victim, operatorToken: admin)
            let valid = try #require(enrolled["access_token"] as? String)
            let other = try #require(
                try await stack.enroll(id: "bystander-1", operatorToken: admin)["access_token"] as? String)
            let forge = try await AttackTokenForge.load(databaseURL: stack.databaseURL)
            let attacks = try Self.ingestAttacks(forge: forge, valid: valid, other: other, admin: admin)

            let pack = try AttackBodies.zlib(AttackBodies.validPack())
            for attack in attacks {
                let response = try await stack.attackPost(
                    authorization: attack.authorization, contentEncoding: ["deflate"], body: pack)
                Self.expectRejected(response, status: attack.status, code: attack.code, attack.name)
                if let token = attack.authorization.first, token.count > 40 {
                    #expect(!String(buffer: response.body).contains(token), "\(attack.name): token echoed")
                }
            }
            #expect(try await stack.telemetryRows() == 0)

            // The scheme is matched without regard to case (RFC 7235 §2.1): these must work.
            for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
                let response = try await stack.attackPost(
                    authorization: ["\(scheme) \(valid)"], contentEncoding: ["deflate"], body: pack)
                #expect(response.status == .ok, "scheme \(scheme)")
            }
            #expect(try await stack.storedCount(device: Self.victim) == 12)
            #expect(try await stack.storedCount(device: "bystander-1") == 0)
            #expect(try await stack.telemetryRows() == 12)
            print("token attack suite, ingest: \(attacks.count) attacks rejected with the expected code, 0 rows stored")
        }
    }

    @Test("device and forged tokens at control-plane endpoints are refused; the registry is unchanged")
    func adminAttacks() async throws {
        try await TestStack.run { stack in
            let admin = try await stack.login()
            let device = try #require(
                try await stack.enroll(id: Self.victim, operatorToken: admin)["access_token"] as? String)
            let forge = try await AttackTokenForge.load(databaseURL: stack.databaseURL)
            let before = (
                devices: try await stack.rows("devices"), operators: try await stack.rows("operators"),
                keys: try await stack.rows("signing_keys"), refresh: try await stack.rows("refresh_tokens")
            )
            let attacks = try Self.adminAttacks(forge: forge, device: device)
            for attack in attacks {
                let body: ByteBuffer =
                    attack.uri == "/v1/operators"
                    ? TestStack.json(["username": "mallory", "password": "mallory-password-1", "role": "admin"])
                    : TestStack.json(["id": "mallory-device"])
                let response = try await stack.provisioning.execute(
                    uri: attack.uri, method: attack.method,
                    headers: [.authorization: "Bearer \(attack.token)", .contentType: "application/json"], body: body
                )
                Self.expectRejected(response, status: attack.status, code: attack.code, attack.name)
            }
            #expect(try await stack.rows("devices") == before.devices)
            #expect(try await stack.rows("operators") == before.operators)
            #expect(try await stack.rows("signing_keys") == before.keys)
            #expect(try await stack.rows("refresh_tokens") == before.refresh)

            // The real admin token still works after the barrage.
            let listed = try await stack.provisioning.execute(
                uri: "/v1/devices", method: .get, headers: [.authorization: "Bearer \(admin)"])
            #expect(listed.status == .ok)
            print("token attack suite, provisioning: \(attacks.count) attacks rejected with the expected code")
        }
    }

    @Test("an Authorization header past the HTTP parser's 80 KiB limit is refused before routing; nothing is stored")
    func oversizedHeader() async throws {
        try await TestStack.run { stack in
            let admin = try await stack.login()
            let valid = try #require(
                try await stack.enroll(id: Self.victim, operatorToken: admin)["access_token"] as? String)
            let port = try #require(stack.ingest.port)
            let huge = "Bearer " + valid + String(repeating: "A", count: 100 << 10)
            let pack = try AttackBodies.zlib(AttackBodies.validPack())
            // A connection of its own: the server closes it after answering.
            let answer = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                try await client.execute(
                    .init(
                        "/v1/telemetry", method: .post,
                        headers: [
                            .authorization: huge, .contentType: "application/senml+json", .contentEncoding: "deflate",
                        ],
                        body: pack))
            }
            // Hummingbird's HTTP/1 decoder (maxHeaderFieldSize 80 KiB) answers a bare 400 with
            // `Connection: close` below the router, so this one answer is not problem+json.
            #expect(answer.status == .badRequest)
            #expect(answer.headers[.connection] == "close")
            #expect(try await stack.telemetryRows() == 0)
            let after = try await stack.post(AttackBodies.validPack(), token: valid)
            #expect(after.status == .ok)
        }
    }

    /// Both services on one frozen clock, a quarter into a second, so every step of a test happens
    /// "in the same second" (revocation cut-offs are whole seconds); no rate limit (the clock does
    /// not refill buckets).
    static func frozenStack<T: Sendable>(_ body: @Sendable (TestStack, FakeClock) async throws -> T) async throws -> T {
        let clock = FakeClock(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) + 0.25))
        // The backstop reload is pushed out of reach, so what ingest learns it learns by NOTIFY alone.
        return try await TestStack.run(
            clock: clock,
            ingest: {
                $0.ratePerDevice = 0
                $0.revocationReloadSeconds = 3600
            }
        ) { stack in
            try await body(stack, clock)
        }
    }

    /// Control-plane calls and polling posts for the revocation attacks.
    struct Revocations {
        let stack: TestStack
        let admin: String

        func manage(_ method: HTTPRequest.Method, _ uri: String) async throws -> TestResponse {
            try await stack.provisioning.execute(uri: uri, method: method, headers: [.authorization: "Bearer \(admin)"])
        }

        /// Re-credentials the device and exchanges the new refresh token for an access token.
        func recredential(_ id: String) async throws -> String {
            let credentials = try await manage(.post, "/v1/devices/\(id)/credentials")
            #expect(credentials.status == .ok)
            let refresh = try #require(try TestStack.object(credentials.body)["refresh_token"] as? String)
            let exchanged = try await stack.provisioning.execute(
                uri: "/v1/token", method: .post, headers: [.contentType: "application/json"],
                body: TestStack.json(["grant_type": "refresh_token", "refresh_token": refresh]))
            #expect(exchanged.status == .ok)
            return try #require(try TestStack.object(exchanged.body)["access_token"] as? String)
        }

        /// Posts a valid pack with `token` until the answer is `wanted` (API.md: ingest honours a
        /// revocation within 1 s) or `timeout` passes; returns the last answer and the time taken.
        func post(_ token: String, until wanted: HTTPResponse.Status, timeout: Duration = .seconds(10)) async throws
            -> (TestResponse, Duration)
        {
            let start = ContinuousClock.now
            while true {
                let response = try await stack.post(AttackBodies.validPack(), token: token)
                if response.status == wanted || ContinuousClock.now - start > timeout {
                    return (response, ContinuousClock.now - start)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    @Test("a stolen token dies with revoke and with delete, and re-enrolling the device id does not revive it")
    func revokedTokens() async throws {
        try await Self.frozenStack { stack, clock in
            let admin = try await stack.login()
            let calls = Revocations(stack: stack, admin: admin)
            let id = "stolen-1"
            let stolen = try #require(try await stack.enroll(id: id, operatorToken: admin)["access_token"] as? String)
            #expect(try await calls.post(stolen, until: .ok).0.status == .ok)  // now in the verified-token cache

            // Revoke: the cached token is refused.
            clock.advance(by: 0.1)
            #expect(try await calls.manage(.post, "/v1/devices/\(id)/revoke").status == .ok)
            let (revoked, afterRevoke) = try await calls.post(stolen, until: .unauthorized)
            Self.expectRejected(revoked, status: .unauthorized, code: "token_revoked", "stolen token after revoke")

            // Re-credential: the device gets a new token; the stolen one stays dead.
            clock.advance(by: 0.1)
            let fresh = try await calls.recredential(id)
            #expect(try await calls.post(fresh, until: .ok).0.status == .ok)
            Self.expectRejected(
                try await calls.post(stolen, until: .unauthorized).0, status: .unauthorized, code: "token_revoked",
                "stolen token after re-credential")

            // Delete: every token of the device is refused.
            clock.advance(by: 0.1)
            #expect(try await calls.manage(.delete, "/v1/devices/\(id)").status == .noContent)
            let (deleted, afterDelete) = try await calls.post(fresh, until: .unauthorized)
            Self.expectRejected(deleted, status: .unauthorized, code: "token_revoked", "token after delete")

            // Re-enroll the same id (same second): the new device's token works, the old device's stay dead.
            clock.advance(by: 0.1)
            let reborn = try #require(try await stack.enroll(id: id, operatorToken: admin)["access_token"] as? String)
            // Re-enrolling notifies ingest (which held the deleted device as disabled); with the
            // periodic reload an hour away, only that notification can let the new token in.
            #expect(try await calls.post(reborn, until: .ok).0.status == .ok)
            Self.expectRejected(
                try await stack.post(AttackBodies.validPack(), token: stolen), status: .unauthorized,
                code: "token_revoked", "stolen token after re-enroll")
            // `fresh` was minted with iat raised to the revoke cut-off; the re-enrolled id's cut-off
            // lies past it even within the same second.
            let revived = try await stack.post(AttackBodies.validPack(), token: fresh)
            Self.expectRejected(revived, status: .unauthorized, code: "token_revoked", "fresh token after re-enroll")
            print("token attack suite: revocation honoured after \(afterRevoke) (revoke), \(afterDelete) (delete)")
        }
    }

    @Test("a token in the verified-token cache expires on time (60 s leeway)")
    func cachedTokenExpires() async throws {
        try await Self.frozenStack { stack, clock in
            let admin = try await stack.login()
            let token = try #require(
                try await stack.enroll(id: "cached-1", operatorToken: admin)["access_token"] as? String)
            #expect(try await stack.post(AttackBodies.validPack(), token: token).status == .ok)  // cached
            clock.advance(by: 3600 + 59)  // exp + 59 s: inside the leeway
            #expect(try await stack.post(AttackBodies.validPack(), token: token).status == .ok)
            clock.advance(by: 2)  // exp + 61 s
            Self.expectRejected(
                try await stack.post(AttackBodies.validPack(), token: token), status: .unauthorized,
                code: "token_expired", "cached token past exp")
            #expect(try await stack.storedCount(device: "cached-1") == 6)
        }
    }

    @Test("a token minted between two revocations stays dead when the device is re-credentialed again")
    func revokedTwice() async throws {
        try await Self.frozenStack { stack, clock in
            let admin = try await stack.login()
            let calls = Revocations(stack: stack, admin: admin)
            let id = "twice-1"
            _ = try await stack.enroll(id: id, operatorToken: admin)
            clock.advance(by: 0.1)
            #expect(try await calls.manage(.post, "/v1/devices/\(id)/revoke").status == .ok)
            clock.advance(by: 0.1)
            let leaked = try await calls.recredential(id)
            #expect(try await calls.post(leaked, until: .ok).0.status == .ok)

            // That token leaks: revoke again, then give the device new credentials.
            clock.advance(by: 0.1)
            #expect(try await calls.manage(.post, "/v1/devices/\(id)/revoke").status == .ok)
            let (refused, _) = try await calls.post(leaked, until: .unauthorized)
            Self.expectRejected(refused, status: .unauthorized, code: "token_revoked", "leaked token after revoke")
            clock.advance(by: 0.1)
            let current = try await calls.recredential(id)
            #expect(try await calls.post(current, until: .ok).0.status == .ok)
            let answer = try await stack.post(AttackBodies.validPack(), token: leaked)
            // The second revoke moves the cut-off past the first even within the same second.
            Self.expectRejected(
                answer, status: .unauthorized, code: "token_revoked", "leaked token after re-credential")
        }
    }

    // MARK: the tables

    static func ingestAttacks(forge: AttackTokenForge, valid: String, other: String, admin: String) throws -> [Attack] {
        let now = Int(Date().timeIntervalSince1970)
        let claims = forge.deviceClaims(victim)
        let parts = valid.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let otherParts = other.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        func bearer(_ token: String) -> [String] { ["Bearer \(token)"] }
        func signed(_ header: String? = nil, _ claims: String, _ signature: AttackTokenForge.Signature = .real) throws
            -> [String]
        {
            bearer(try forge.token(header: header, claims: claims, signature: signature))
        }
        func device(set: [String: Any] = [:], remove: [String] = []) -> String {
            forge.deviceClaims(victim, set: set, remove: remove, now: now)
        }
        func encoded(_ text: String) -> String { Base64URL.encode(Array(text.utf8)) }
        // The victim's claims with another subject, under the victim's signature.
        let tampered = encoded(device(set: ["sub": "bystander-1"]))

        var attacks: [Attack] = []
        func add(
            _ name: String, _ authorization: [String], _ code: String, _ status: HTTPResponse.Status = .unauthorized
        ) {
            attacks.append(Attack(name: name, authorization: authorization, code: code, status: status))
        }

        // alg none, every spelling, with and without a signature segment.
        for alg in ["none", "None", "NONE", "nOnE"] {
            add(
                "alg \(alg), empty signature", bearer(encoded(forge.header(alg: alg)) + "." + encoded(claims) + "."),
                "alg_not_allowed")
            add(
                "alg \(alg), real signature kept",
                bearer(encoded(forge.header(alg: alg)) + "." + encoded(claims) + "." + parts[2]), "alg_not_allowed")
        }
        add("alg none, no kid", bearer(encoded(#"{"alg":"none"}"#) + "." + encoded(claims) + "."), "alg_not_allowed")
        // Key confusion: HS256 keyed with the real public key, in every form an attacker can fetch.
        add(
            "HS256 keyed with the public key PEM",
            try signed(forge.header(alg: "HS256"), claims, .hs256(secret: forge.realPublicPEM)), "alg_not_allowed")
        add(
            "HS256 keyed with the public key DER",
            try signed(forge.header(alg: "HS256"), claims, .hs256(secret: forge.realPublicDER)), "alg_not_allowed")
        add(
            "HS384 keyed with the public key PEM",
            try signed(forge.header(alg: "HS384"), claims, .hs256(secret: forge.realPublicPEM)), "alg_not_allowed")
        // Other algorithms, each with an attacker key, kid of the real key.
        add("ES256, attacker key", try signed(forge.header(alg: "ES256"), claims, .attackerES256), "alg_not_allowed")
        add("PS256, attacker key", try signed(forge.header(alg: "PS256"), claims, .attackerPS256), "alg_not_allowed")
        add("RS384, attacker key", try signed(forge.header(alg: "RS384"), claims, .attackerRS384), "alg_not_allowed")
        add("RS512, attacker key", try signed(forge.header(alg: "RS512"), claims, .attackerRS512), "alg_not_allowed")
        add(
            "EdDSA header, attacker EC signature", try signed(forge.header(alg: "EdDSA"), claims, .attackerES256),
            "alg_not_allowed")
        add(
            "alg rs256 (case matters, RFC 7515 §4.1.1)", try signed(forge.header(alg: "rs256"), claims),
            "alg_not_allowed")
        add("alg \"RS256 \"", try signed(forge.header(alg: "RS256 "), claims), "alg_not_allowed")
        add("alg missing", try signed(#"{"typ":"JWT","kid":"\#(forge.realKid)"}"#, claims), "token_malformed")
        add("alg an array", try signed(#"{"alg":["RS256"],"kid":"\#(forge.realKid)"}"#, claims), "token_malformed")
        // Header key injection: the attacker's key travels in the token, signed with it, kid of the real key.
        add(
            "jwk header with the attacker key",
            try signed(forge.header(extra: ["jwk": forge.attackerJWK]), claims, .attackerRS256), "token_bad_signature")
        add(
            "jku header to the attacker JWKS",
            try signed(forge.header(extra: ["jku": "https://attacker.example/jwks.json"]), claims, .attackerRS256),
            "token_bad_signature")
        add(
            "x5u header to the attacker certificate",
            try signed(forge.header(extra: ["x5u": "https://attacker.example/cert.pem"]), claims, .attackerRS256),
            "token_bad_signature")
        add(
            "x5c header with the attacker key",
            try signed(forge.header(extra: ["x5c": [forge.attackerX5C]]), claims, .attackerRS256), "token_bad_signature"
        )
        add(
            "jwk header, kid of the attacker key",
            try signed(forge.header(kid: "attacker-key", extra: ["jwk": forge.attackerJWK]), claims, .attackerRS256),
            "token_unknown_key")
        add("crit header extension", try signed(forge.header(extra: ["crit": ["exp"]]), claims), "token_malformed")
        // kid: missing, odd, hostile.
        add("kid missing", try signed(#"{"alg":"RS256","typ":"JWT"}"#, claims), "token_unknown_key")
        add("kid null", try signed(#"{"alg":"RS256","typ":"JWT","kid":null}"#, claims), "token_unknown_key")
        add("kid empty", try signed(forge.header(kid: ""), claims), "token_unknown_key")
        add("kid unknown", try signed(forge.header(kid: "no-such-key"), claims), "token_unknown_key")
        add(
            "kid 2 000 characters", try signed(forge.header(kid: String(repeating: "k", count: 2000)), claims),
            "token_unknown_key")
        add("kid path traversal", try signed(forge.header(kid: "../../etc/passwd"), claims), "token_unknown_key")
        add("kid SQL", try signed(forge.header(kid: "' OR '1'='1"), claims), "token_unknown_key")
        add("kid a URL", try signed(forge.header(kid: "http://169.254.169.254/latest"), claims), "token_unknown_key")
        add("kid a number", try signed(#"{"alg":"RS256","typ":"JWT","kid":12345}"#, claims), "token_malformed")
        add(
            "kid unknown, attacker key", try signed(forge.header(kid: "no-such-key"), claims, .attackerRS256),
            "token_unknown_key")
        // Signature segment: tampered, stripped, empty, foreign, truncated.
        add("payload tampered (sub changed)", bearer(parts[0] + "." + tampered + "." + parts[2]), "token_bad_signature")
        add(
            "header tampered (cty added)",
            bearer(encoded(forge.header(extra: ["cty": "x"])) + "." + parts[1] + "." + parts[2]), "token_bad_signature")
        add("RS256 with the attacker key", try signed(nil, claims, .attackerRS256), "token_bad_signature")
        add("signature stripped (two parts)", bearer(parts[0] + "." + parts[1]), "token_malformed")
        add("signature empty", bearer(parts[0] + "." + parts[1] + "."), "token_bad_signature")
        add(
            "signature of another device's token", bearer(parts[0] + "." + parts[1] + "." + otherParts[2]),
            "token_bad_signature")
        add(
            "claims of another device under this signature", bearer(parts[0] + "." + otherParts[1] + "." + parts[2]),
            "token_bad_signature")
        add(
            "signature all zero",
            bearer(parts[0] + "." + parts[1] + "." + Base64URL.encode([UInt8](repeating: 0, count: 256))),
            "token_bad_signature")
        add("signature one byte", bearer(parts[0] + "." + parts[1] + ".AA"), "token_bad_signature")
        let signatureBytes = try #require(Base64URL.decode(parts[2]))
        add(
            "signature truncated by 3 bytes",
            bearer(parts[0] + "." + parts[1] + "." + Base64URL.encode(signatureBytes.dropLast(3))),
            "token_bad_signature")
        // The same signature bytes spelled with the spare bits of the last character set: base64url
        // has one spelling per byte string, and another would be another verified-token cache key.
        var respelled = Array(parts[2].utf8)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let last = try #require(alphabet.firstIndex(of: respelled[respelled.count - 1]))
        respelled[respelled.count - 1] = alphabet[last ^ 1]
        add(
            "signature respelled (a spare bit set)",
            bearer(parts[0] + "." + parts[1] + "." + String(decoding: respelled, as: UTF8.self)), "token_malformed")
        add("truncated by 1 character (impossible base64 length)", bearer(String(valid.dropLast(1))), "token_malformed")
        add(
            "truncated inside the claims", bearer(parts[0] + "." + parts[1].prefix(parts[1].count / 2)),
            "token_malformed")
        add("trailing dot (four parts)", bearer(valid + "."), "token_malformed")
        add(
            "JWE-shaped, five parts",
            bearer(encoded(#"{"alg":"RSA-OAEP","enc":"A256GCM","kid":"\#(forge.realKid)"}"#) + ".AAAA.AAAA.AAAA.AAAA"),
            "token_malformed")
        add("header empty", bearer("." + parts[1] + "." + parts[2]), "token_malformed")
        add("header not JSON", bearer(encoded("RS256") + "." + parts[1] + "." + parts[2]), "token_malformed")
        add("header a JSON array", bearer(encoded(#"["RS256"]"#) + "." + parts[1] + "." + parts[2]), "token_malformed")
        add("claims not JSON", try signed(nil, "sub=victim-1"), "token_malformed")
        add("claims a JSON array", try signed(nil, #"[{"sub":"victim-1"}]"#), "token_malformed")
        // Bad base64url (RFC 7515 §2): padding, the standard alphabet, spaces.
        add("padding '=' on the signature", bearer(valid + "="), "token_malformed")
        add("padding '==' on the header", bearer(parts[0] + "==." + parts[1] + "." + parts[2]), "token_malformed")
        add("'+' in the claims", bearer(parts[0] + ".+" + parts[1].dropFirst() + "." + parts[2]), "token_malformed")
        add("'/' in the signature", bearer(parts[0] + "." + parts[1] + "./" + parts[2].dropFirst()), "token_malformed")
        add("space inside the token", bearer(parts[0] + ". " + parts[1] + "." + parts[2]), "token_malformed")
        add("tab inside the token", ["Bearer " + parts[0] + ".\t" + parts[1] + "." + parts[2]], "token_malformed")
        add("non-ASCII in the token", bearer(parts[0] + ".é" + parts[1] + "." + parts[2]), "token_malformed")
        add("not a JWT at all", bearer("not-a-jwt"), "token_malformed")
        // Scheme and header shape (RFC 6750 §2.1).
        add("no Authorization header", [], "token_missing")
        add("Basic scheme", ["Basic dmljdGltLTE6cGFzc3dvcmQ="], "token_malformed")
        add("Basic scheme carrying the token", ["Basic \(valid)"], "token_malformed")
        add("Token scheme", ["Token \(valid)"], "token_malformed")
        add("Bearer twice", ["Bearer Bearer \(valid)"], "token_malformed")
        add("Bearer, two spaces", ["Bearer  \(valid)"], "token_malformed")
        add("Bearer alone", ["Bearer"], "token_malformed")
        add("token without a scheme", [valid], "token_malformed")
        add("Bearer: with a colon", ["Bearer:\(valid)"], "token_malformed")
        add("empty Authorization", [""], "token_malformed")
        add("two Authorization headers, both valid", ["Bearer \(valid)", "Bearer \(valid)"], "token_malformed")
        add(
            "two Authorization headers, forged then valid",
            ["Bearer \(parts[0]).\(tampered).\(parts[2])", "Bearer \(valid)"], "token_malformed")
        // Claims: time, audience, issuer, required fields and their types, all under the real key.
        add(
            "expired an hour ago",
            try signed(nil, device(set: ["iat": now - 7200, "nbf": now - 7200, "exp": now - 3600])), "token_expired")
        add("expired beyond the 60 s leeway", try signed(nil, device(set: ["exp": now - 120])), "token_expired")
        add("exp 0", try signed(nil, device(set: ["exp": 0])), "token_expired")
        add("exp negative", try signed(nil, device(set: ["exp": -1])), "token_expired")
        add("nbf in an hour", try signed(nil, device(set: ["nbf": now + 3600])), "token_not_yet_valid")
        add("iat in an hour", try signed(nil, device(set: ["iat": now + 3600, "nbf": now])), "token_not_yet_valid")
        add("aud someone else", try signed(nil, device(set: ["aud": "someone-else"])), "token_wrong_audience")
        add(
            "aud the admin audience", try signed(nil, device(set: ["aud": TokenNames.adminAudience])),
            "token_wrong_audience")
        add("aud an array without ingest", try signed(nil, device(set: ["aud": ["a", "b"]])), "token_wrong_audience")
        add("aud missing", try signed(nil, device(remove: ["aud"])), "token_wrong_audience")
        add("aud a number", try signed(nil, device(set: ["aud": 42])), "token_malformed")
        add("iss someone else", try signed(nil, device(set: ["iss": "evil"])), "token_wrong_issuer")
        add("iss in other case", try signed(nil, device(set: ["iss": "Fleetgate"])), "token_wrong_issuer")
        add("iss missing", try signed(nil, device(remove: ["iss"])), "token_wrong_issuer")
        add("iss a number", try signed(nil, device(set: ["iss": 1])), "token_malformed")
        add("exp missing", try signed(nil, device(remove: ["exp"])), "token_malformed")
        add("exp a string", try signed(nil, device(set: ["exp": String(now + 3600)])), "token_malformed")
        add("exp a boolean", try signed(nil, device(set: ["exp": true])), "token_malformed")
        add("exp 1e300", try signed(nil, device(set: ["exp": 1e300])), "token_malformed")
        add("nbf a string", try signed(nil, device(set: ["nbf": String(now)])), "token_malformed")
        add("sub missing", try signed(nil, device(remove: ["sub"])), "token_malformed")
        add("sub a number", try signed(nil, device(set: ["sub": 1])), "token_malformed")
        add("sub empty", try signed(nil, device(set: ["sub": ""])), "token_malformed")
        add("sub SQL", try signed(nil, device(set: ["sub": "x'; DROP TABLE telemetry;--"])), "token_malformed")
        add("sub path traversal", try signed(nil, device(set: ["sub": "../victim-1"])), "token_malformed")
        // Scope and role (403 only once the token itself is good).
        add(
            "scope telemetry:read", try signed(nil, device(set: ["scope": "telemetry:read"])), "insufficient_scope",
            .forbidden)
        add("scope missing", try signed(nil, device(remove: ["scope"])), "insufficient_scope", .forbidden)
        add(
            "scope a prefix of telemetry:write", try signed(nil, device(set: ["scope": "telemetry:writ"])),
            "insufficient_scope", .forbidden)
        add("scope an array", try signed(nil, device(set: ["scope": [TokenNames.telemetryWrite]])), "token_malformed")
        add(
            "role admin instead of a scope", try signed(nil, device(set: ["role": "admin"], remove: ["scope"])),
            "insufficient_scope", .forbidden)
        add("operator token at ingest", bearer(admin), "token_wrong_audience")
        // Size: a 64 KiB token under the real key (48 KiB of claims, base64url grows them by 4/3).
        let large = try forge.token(claims: device(set: ["pad": String(repeating: "A", count: 48 << 10)]))
        precondition(large.utf8.count > 64 << 10 && large.utf8.count < 80 << 10)
        add("64 KiB token", bearer(large), "token_malformed")
        return attacks
    }

    static func adminAttacks(forge: AttackTokenForge, device: String) throws -> [AdminAttack] {
        let admin = forge.operatorClaims()
        func forged(_ header: String? = nil, _ claims: String, _ signature: AttackTokenForge.Signature = .real) throws
            -> String
        {
            try forge.token(header: header, claims: claims, signature: signature)
        }
        let endpoints: [(HTTPRequest.Method, String)] = [
            (.post, "/v1/devices"), (.get, "/v1/devices"), (.post, "/v1/operators"), (.post, "/v1/keys/rotate"),
            (.delete, "/v1/devices/\(victim)"), (.post, "/v1/devices/\(victim)/revoke"),
            (.get, "/v1/devices/\(victim)/telemetry"),
        ]
        var attacks: [AdminAttack] = []
        for (method, uri) in endpoints {
            attacks.append(
                AdminAttack(
                    name: "device token at \(method) \(uri)", method: method, uri: uri, token: device,
                    code: "token_wrong_audience"))
        }
        let writes: [(HTTPRequest.Method, String)] = [(.post, "/v1/devices"), (.post, "/v1/keys/rotate")]
        for (method, uri) in writes {
            let at = "\(method) \(uri)"
            let noneHeader = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
            attacks += [
                AdminAttack(
                    name: "alg none admin token at \(at)", method: method, uri: uri,
                    token: noneHeader + "." + Base64URL.encode(Array(admin.utf8)) + ".", code: "alg_not_allowed"),
                AdminAttack(
                    name: "HS256 key confusion at \(at)", method: method, uri: uri,
                    token: try forged(forge.header(alg: "HS256"), admin, .hs256(secret: forge.realPublicPEM)),
                    code: "alg_not_allowed"),
                AdminAttack(
                    name: "jwk injection at \(at)", method: method, uri: uri,
                    token: try forged(forge.header(extra: ["jwk": forge.attackerJWK]), admin, .attackerRS256),
                    code: "token_bad_signature"),
                AdminAttack(
                    name: "unknown kid at \(at)", method: method, uri: uri,
                    token: try forged(forge.header(kid: "../../etc/passwd"), admin), code: "token_unknown_key"),
                AdminAttack(
                    name: "expired admin token at \(at)", method: method, uri: uri,
                    token: try forged(
                        nil, forge.operatorClaims(set: ["exp": Int(Date().timeIntervalSince1970) - 3600])),
                    code: "token_expired"),
                AdminAttack(
                    name: "admin token of another issuer at \(at)", method: method, uri: uri,
                    token: try forged(nil, forge.operatorClaims(set: ["iss": "evil"])), code: "token_wrong_issuer"),
                AdminAttack(
                    name: "admin-audience token without a role at \(at)", method: method, uri: uri,
                    token: try forged(nil, forge.operatorClaims(remove: ["role"])), code: "insufficient_scope",
                    status: .forbidden),
                AdminAttack(
                    name: "unknown role superuser at \(at)", method: method, uri: uri,
                    token: try forged(nil, forge.operatorClaims(role: "superuser")), code: "insufficient_scope",
                    status: .forbidden),
                AdminAttack(
                    name: "viewer token at \(at)", method: method, uri: uri,
                    token: try forged(nil, forge.operatorClaims(role: "viewer")), code: "insufficient_scope",
                    status: .forbidden),
                AdminAttack(
                    name: "role ADMIN in capitals at \(at)", method: method, uri: uri,
                    token: try forged(nil, forge.operatorClaims(role: "ADMIN")), code: "insufficient_scope",
                    status: .forbidden),
            ]
        }
        return attacks
    }
}
