import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Provisioning
import Testing

@Suite("Signing keys: JWKS, rotation, publish window, replicas on one database")
struct KeyRotationTests {
    static let adminVerifier = TokenVerifier(rules: VerificationRules(issuer: "fleetgate", audience: "fleetgate-admin"))
    static let deviceVerifier = TokenVerifier(
        rules: VerificationRules(issuer: "fleetgate", audience: "fleetgate-ingest"))

    @Test("the JWKS publishes public RSA keys only, with Cache-Control")
    func jwksShape() async throws {
        try await ProvisioningHarness.run { h in
            let response = try await h.call(.get, "/.well-known/jwks.json")
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl]?.contains("max-age=300") == true)
            #expect(response.headers[.contentType] == "application/json")
            let object = try ProvisioningHarness.object(response)
            let keys = try #require(object["keys"] as? [[String: Any]])
            #expect(keys.count == 1)
            for key in keys {
                #expect(Set(key.keys) == ["kty", "kid", "use", "alg", "n", "e"])
                #expect(key["kty"] as? String == "RSA" && key["alg"] as? String == "RS256")
                #expect(key["use"] as? String == "sig")
            }
            let set = PublicKeySet(try await h.jwks())
            #expect(set.kids.count == 1)
        }
    }

    @Test("tokens signed before and after a rotation both verify against the JWKS; the old key leaves later")
    func rotation() async throws {
        try await ProvisioningHarness.run { h in
            let before = try await h.login()
            let deviceBefore = try #require(try await h.enroll("k-1", token: before)["access_token"] as? String)
            let oldKid = try ProvisioningHarness.kid(before)

            let rotate = try await h.call(.post, "/v1/keys/rotate", token: before)
            #expect(rotate.status == .ok)
            let newKid = try #require(try ProvisioningHarness.object(rotate)["kid"] as? String)
            #expect(newKid != oldKid)

            let after = try await h.login()
            #expect(try ProvisioningHarness.kid(after) == newKid)
            let deviceAfter = try #require(try await h.enroll("k-2", token: after)["access_token"] as? String)
            #expect(try ProvisioningHarness.kid(deviceAfter) == newKid)

            let jwks = try await h.jwks()
            #expect(Set(jwks.keys.map(\.kid)) == [oldKid, newKid])
            let keys = PublicKeySet(jwks)
            let now = Int64(h.clock.now().timeIntervalSince1970)
            #expect(try Self.adminVerifier.verify(before, keys: keys, now: now).sub == "admin")
            #expect(try Self.adminVerifier.verify(after, keys: keys, now: now).sub == "admin")
            #expect(try Self.deviceVerifier.verify(deviceBefore, keys: keys, now: now).sub == "k-1")
            #expect(try Self.deviceVerifier.verify(deviceAfter, keys: keys, now: now).sub == "k-2")
            // The old operator token still works on the service itself.
            #expect(try await h.call(.get, "/v1/devices", token: before).status == .ok)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM signing_keys WHERE retired_at IS NULL") == 1)

            // Still published just before the window closes (longest lifetime 3600 s + 60 s leeway
            // + 15 s for other replicas' key rings)...
            h.clock.advance(by: 3600 + 65)
            #expect(Set(try await h.jwks().keys.map(\.kid)) == [oldKid, newKid])
            // ...and gone after it (beyond the key ring's 10 s cache too).
            h.clock.advance(by: 11 + 10)
            #expect(try await h.jwks(settledWhen: { $0 == [newKid] }).keys.map(\.kid) == [newKid])
            // Tokens of the new key keep verifying.
            let late = try await h.login()
            #expect(try await h.call(.get, "/v1/devices", token: late).status == .ok)
        }
    }

    @Test("a rotated-out key's token fails as token_unknown_key once the key has left the JWKS")
    func forgottenKey() async throws {
        try await ProvisioningHarness.run(configure: {
            $0.operatorTokenLifetime = 60
            $0.deviceTokenLifetime = 60
        }) { h in
            let old = try await h.login()
            #expect(try await h.call(.post, "/v1/keys/rotate", token: old).status == .ok)
            h.clock.advance(by: 200)
            let response = try await h.call(.get, "/v1/devices", token: old)
            #expect(response.status == .unauthorized)
            // Expired and unknown are both refusals; the key is no longer published.
            #expect(["token_unknown_key", "token_expired"].contains(ProvisioningHarness.code(response)))
            #expect(try await h.jwks(settledWhen: { $0.count == 1 }).keys.count == 1)
        }
    }

    @Test("two provisioning applications on one database sign and publish consistently")
    func twoReplicas() async throws {
        let clock = FakeClock()
        let url = try await ProvisioningHarness.runTwo(clock: clock) { a, b in
            // One key, created by whichever started first, is shared.
            #expect(try await a.jwks() == (try await b.jwks()))
            let fromA = try await a.login()
            let fromB = try await b.login(.operator)
            #expect(try await b.call(.get, "/v1/devices", token: fromA).status == .ok)
            #expect(try await a.call(.get, "/v1/devices", token: fromB).status == .ok)
            // A device enrolled on A refreshes on B.
            let refresh = try #require(try await a.enroll("r-1", token: fromA)["refresh_token"] as? String)
            #expect(try await b.refresh(refresh).status == .ok)

            // Rotation on A: B accepts A's new tokens at once (unknown kid forces a reload)...
            let rotate = try await a.call(.post, "/v1/keys/rotate", token: fromA)
            let newKid = try #require(try ProvisioningHarness.object(rotate)["kid"] as? String)
            let newFromA = try await a.login()
            #expect(try ProvisioningHarness.kid(newFromA) == newKid)
            #expect(try await b.call(.get, "/v1/devices", token: newFromA).status == .ok)
            #expect(try await b.call(.get, "/v1/devices", token: fromA).status == .ok)
            // ...and after its cache window publishes the new key and signs with it.
            clock.advance(by: 11)
            let published = Set(try await b.jwks().keys.map(\.kid))
            #expect(published.contains(newKid))
            #expect(published.count == 2)
            let newFromB = try await b.login()
            #expect(try ProvisioningHarness.kid(newFromB) == newKid)
            let keys = PublicKeySet(try await b.jwks())
            let now = Int64(clock.now().timeIntervalSince1970)
            for token in [fromA, fromB, newFromA, newFromB] {
                _ = try Self.adminVerifier.verify(token, keys: keys, now: now)
            }
            #expect(try await a.call(.get, "/v1/devices", token: newFromB).status == .ok)
        }
        #expect(try await TestDatabase.scalar(url, "SELECT count(*)::int8 FROM signing_keys") == 2)
    }

    @Test("an unknown kid forces at most one key reload per second")
    func unknownKidReloadIsRateLimited() async throws {
        let url = try await TestDatabase.create()
        try await Fixtures.createOperator(
            url: url, username: "admin", password: ProvisioningHarness.password, role: .admin)
        let clock = FakeClock()
        try await ProvisioningHarness.run(clock: clock, databaseURL: url) { a in
            try await ProvisioningHarness.run(clock: clock, databaseURL: url) { b in
                let admin = try await a.login()
                let bogus = ErrorContractTests.forged(admin, header: ["alg": "RS256", "typ": "JWT", "kid": "bogus"])
                #expect(
                    ProvisioningHarness.code(try await b.call(.get, "/v1/devices", token: bogus)) == "token_unknown_key"
                )
                // A rotates in the same second: B already used its reload, so the new kid is unknown to it...
                #expect(try await a.call(.post, "/v1/keys/rotate", token: admin).status == .ok)
                let fresh = try await a.login()
                let refused = try await b.call(.get, "/v1/devices", token: fresh)
                #expect(ProvisioningHarness.code(refused) == "token_unknown_key")
                // ...until a second has passed.
                clock.advance(by: 1)
                #expect(try await b.call(.get, "/v1/devices", token: fresh).status == .ok)
            }
        }
    }
}
