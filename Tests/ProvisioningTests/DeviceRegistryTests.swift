import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Provisioning
import Testing

@Suite("Device registry: enroll, list, get, revoke, re-issue, delete")
struct DeviceRegistryTests {
    @Test("enrolling answers 201 with id, fleet, refresh and access token; a taken id is 409 conflict")
    func enroll() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login(.operator)
            let answer = try await h.enroll("pump-1", fleet: "plant-a", labels: ["site": "north"], token: token)
            #expect(answer["id"] as? String == "pump-1")
            #expect(answer["fleet"] as? String == "plant-a")
            #expect(answer["token_type"] as? String == "Bearer")
            #expect(answer["expires_in"] as? Int == 3600)
            let refresh = try #require(answer["refresh_token"] as? String)
            #expect(refresh.hasPrefix("fgr_") && refresh.count == 4 + 43)  // 256 bits in base64url
            let claims = try ProvisioningHarness.claims(try #require(answer["access_token"] as? String))
            #expect(claims["sub"] as? String == "pump-1")
            #expect(claims["fleet"] as? String == "plant-a")
            #expect(claims["aud"] as? String == "fleetgate-ingest")

            // Only the SHA-256 hash is stored.
            #expect(try await h.scalar("SELECT count(*)::int8 FROM refresh_tokens WHERE device_id = 'pump-1'") == 1)
            let stored = try await h.scalar(
                "SELECT count(*)::int8 FROM refresh_tokens WHERE token_hash = sha256(convert_to('\(refresh)', 'UTF8'))")
            #expect(stored == 1)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE labels->>'site' = 'north'") == 1)

            let again = try await h.call(.post, "/v1/devices", token: token, json: ["id": "pump-1"])
            #expect(again.status == .conflict)
            #expect(ProvisioningHarness.code(again) == "conflict")
            #expect(try await h.scalar("SELECT count(*)::int8 FROM refresh_tokens WHERE device_id = 'pump-1'") == 1)
        }
    }

    @Test("an enrollment without id gets a generated one and the default fleet")
    func generatedID() async throws {
        try await ProvisioningHarness.run { h in
            let answer = try await h.enroll(token: try await h.login())
            let id = try #require(answer["id"] as? String)
            #expect(id.hasPrefix("dev-") && DeviceID.isValid(id))
            #expect(answer["fleet"] as? String == "default")
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE id = '\(id)'") == 1)
        }
    }

    @Test("invalid enrollment bodies are 400 invalid_request and store nothing")
    func invalidEnrollment() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login()
            let bodies: [String] = [
                #"{"id":"has space"}"#, #"{"id":""}"#, #"{"fleet":"a/b"}"#, #"{"id":5}"#, "not json", "[]",
                #"{"id":"\#(String(repeating: "x", count: 129))"}"#,
            ]
            for body in bodies {
                let response = try await h.call(
                    .post, "/v1/devices", token: token, body: body, contentType: "application/json")
                #expect(response.status == .badRequest, "\(body)")
                #expect(ProvisioningHarness.code(response) == "invalid_request", "\(body)")
            }
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices") == 0)
        }
    }

    @Test("GET answers the device with status, created_at, last_seen_at and never a refresh token")
    func getDevice() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login(.viewer)
            let admin = try await h.login()
            try await h.enroll("meter-9", fleet: "f", labels: ["k": "v"], token: admin)
            let response = try await h.call(.get, "/v1/devices/meter-9", token: token)
            #expect(response.status == .ok)
            let device = try ProvisioningHarness.object(response)
            #expect(device["id"] as? String == "meter-9")
            #expect(device["fleet"] as? String == "f")
            #expect(device["status"] as? String == "active")
            #expect((device["labels"] as? [String: String]) == ["k": "v"])
            let created = try #require(device["created_at"] as? String)
            #expect(ISO8601DateFormatter().date(from: created) != nil, "created_at \(created) is RFC 3339")
            #expect(device["refresh_token"] == nil)
            #expect(!String(buffer: response.body).contains("fgr_"))

            let missing = try await h.call(.get, "/v1/devices/nope", token: token)
            #expect(missing.status == .notFound)
            #expect(ProvisioningHarness.code(missing) == "not_found")
        }
    }

    @Test("the list pages by id with a cursor and filters by fleet")
    func listPagination() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            for i in 0..<7 { try await h.enroll("d\(i)", fleet: i.isMultiple(of: 2) ? "even" : "odd", token: admin) }

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let after = cursor.map { "&after=\($0)" } ?? ""
                let response = try await h.call(.get, "/v1/devices?limit=3\(after)", token: admin)
                #expect(response.status == .ok)
                let page = try ProvisioningHarness.object(response)
                let devices = try #require(page["devices"] as? [[String: Any]])
                #expect(devices.count <= 3)
                seen += devices.compactMap { $0["id"] as? String }
                #expect(devices.allSatisfy { $0["refresh_token"] == nil })
                cursor = page["next"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen == (0..<7).map { "d\($0)" })
            #expect(pages == 3)

            let even = try ProvisioningHarness.object(try await h.call(.get, "/v1/devices?fleet=even", token: admin))
            let evenIDs = (even["devices"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(evenIDs == ["d0", "d2", "d4", "d6"])
            #expect(even["next"] == nil)

            let firstTwoOdd = try ProvisioningHarness.object(
                try await h.call(.get, "/v1/devices?fleet=odd&limit=2", token: admin))
            let next = try #require(firstTwoOdd["next"] as? String)
            let rest = try ProvisioningHarness.object(
                try await h.call(.get, "/v1/devices?fleet=odd&limit=2&after=\(next)", token: admin))
            #expect((rest["devices"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["d5"])

            for bad in ["limit=0", "limit=1001", "limit=x", "after=%25%25"] {
                let response = try await h.call(.get, "/v1/devices?\(bad)", token: admin)
                #expect(response.status == .badRequest, "\(bad)")
                #expect(ProvisioningHarness.code(response) == "invalid_request", "\(bad)")
            }
        }
    }

    @Test("revoking marks the device revoked and its refresh token stops working")
    func revoke() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login(.operator)
            let device = try await h.enroll("rv-1", token: token)
            let refresh = try #require(device["refresh_token"] as? String)
            let response = try await h.call(.post, "/v1/devices/rv-1/revoke", token: token)
            #expect(response.status == .ok)
            #expect(try ProvisioningHarness.object(response)["status"] as? String == "revoked")
            #expect(!String(buffer: response.body).contains("fgr_"))
            let got = try ProvisioningHarness.object(try await h.call(.get, "/v1/devices/rv-1", token: token))
            #expect(got["status"] as? String == "revoked")
            #expect(
                try await h.scalar("SELECT revoked_before FROM devices WHERE id = 'rv-1'")
                    >= Int(h.clock.now().timeIntervalSince1970))

            let exchange = try await h.refresh(refresh)
            #expect(exchange.status == .unauthorized)
            #expect(ProvisioningHarness.code(exchange) == "token_revoked")

            let missing = try await h.call(.post, "/v1/devices/nope/revoke", token: token)
            #expect(missing.status == .notFound)
        }
    }

    /// Half past a whole second, so a cut-off (rounded up) and `iat` (rounded down) differ.
    static func midSecondClock() -> FakeClock {
        FakeClock(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) + 0.5))
    }

    @Test("re-issuing credentials re-activates the device; the old refresh token is dead, the new one works")
    func reissue() async throws {
        try await ProvisioningHarness.run(clock: Self.midSecondClock()) { h in
            let token = try await h.login(.operator)
            let device = try await h.enroll("ri-1", token: token)
            let old = try #require(device["refresh_token"] as? String)
            // Revoke, re-issue and refresh all within one second.
            #expect(try await h.call(.post, "/v1/devices/ri-1/revoke", token: token).status == .ok)

            let response = try await h.call(.post, "/v1/devices/ri-1/credentials", token: token)
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let answer = try ProvisioningHarness.object(response)
            #expect(answer["id"] as? String == "ri-1")
            let new = try #require(answer["refresh_token"] as? String)
            #expect(new != old)
            let got = try ProvisioningHarness.object(try await h.call(.get, "/v1/devices/ri-1", token: token))
            #expect(got["status"] as? String == "active")

            let stale = try await h.refresh(old)
            #expect(stale.status == .unauthorized)
            #expect(ProvisioningHarness.code(stale) == "invalid_refresh_token")
            let fresh = try await h.refresh(new)
            #expect(fresh.status == .ok)
            let access = try #require(try ProvisioningHarness.object(fresh)["access_token"] as? String)
            // The new access token is issued after the revocation cut-off, so ingest accepts it.
            let iat = try #require(try ProvisioningHarness.claims(access)["iat"] as? Int)
            #expect(iat >= (try await h.scalar("SELECT revoked_before FROM devices WHERE id = 'ri-1'")))

            #expect(try await h.call(.post, "/v1/devices/nope/credentials", token: token).status == .notFound)
        }
    }

    @Test("deleting removes the device and its credentials; telemetry stays unless purge=true")
    func delete() async throws {
        try await ProvisioningHarness.run(clock: Self.midSecondClock()) { h in
            let admin = try await h.login()
            let now = h.clock.now().timeIntervalSince1970
            for id in ["keep-1", "purge-1"] {
                try await h.enroll(id, token: admin)
                try await h.insertTelemetry(device: id, rows: [("temp", now - 10, 1), ("temp", now, 2)])
            }
            let refresh = try #require(try await h.enroll("gone-1", token: admin)["refresh_token"] as? String)

            #expect(try await h.call(.delete, "/v1/devices/keep-1", token: admin).status == .noContent)
            #expect(try await h.call(.delete, "/v1/devices/purge-1?purge=true", token: admin).status == .noContent)
            #expect(try await h.call(.delete, "/v1/devices/gone-1", token: admin).status == .noContent)

            for id in ["keep-1", "purge-1", "gone-1"] {
                let got = try await h.call(.get, "/v1/devices/\(id)", token: admin)
                #expect(got.status == .notFound, "\(id)")
                #expect(ProvisioningHarness.code(got) == "not_found")
            }
            #expect(try await h.scalar("SELECT count(*)::int8 FROM telemetry WHERE device_id = 'keep-1'") == 2)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM telemetry WHERE device_id = 'purge-1'") == 0)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM refresh_tokens") == 0)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM device_tombstones") == 3)
            let exchange = try await h.refresh(refresh)
            #expect(exchange.status == .unauthorized)
            #expect(ProvisioningHarness.code(exchange) == "invalid_refresh_token")

            let again = try await h.call(.delete, "/v1/devices/keep-1", token: admin)
            #expect(again.status == .notFound)
            #expect(ProvisioningHarness.code(again) == "not_found")

            // The id may be enrolled again; the new device starts with a cut-off after the deletion.
            let reborn = try await h.enroll("keep-1", token: admin)
            let cutoff = try await h.scalar("SELECT revoked_before FROM devices WHERE id = 'keep-1'")
            #expect(cutoff >= Int(now))
            // ...and its first access token is issued at or after that cut-off, so ingest accepts it.
            let access = try #require(reborn["access_token"] as? String)
            #expect(try #require(try ProvisioningHarness.claims(access)["iat"] as? Int) >= cutoff)
        }
    }
}
