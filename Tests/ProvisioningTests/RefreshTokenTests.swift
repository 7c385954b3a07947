import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Provisioning
import Testing

@Suite("Device refresh tokens on /v1/token: rotation, grace window, reuse detection")
struct RefreshTokenTests {
    @Test("form-urlencoded and JSON bodies both exchange a refresh token for a new pair")
    func bothEncodings() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            let first = try #require(try await h.enroll("t-1", fleet: "f9", token: admin)["refresh_token"] as? String)

            let form = try await h.refresh(first)
            #expect(form.status == .ok)
            #expect(form.headers[.cacheControl] == "no-store")
            let answer = try ProvisioningHarness.object(form)
            #expect(answer["token_type"] as? String == "Bearer")
            #expect(answer["expires_in"] as? Int == 3600)
            let second = try #require(answer["refresh_token"] as? String)
            #expect(second != first && second.hasPrefix("fgr_"))
            let claims = try ProvisioningHarness.claims(try #require(answer["access_token"] as? String))
            #expect(claims["sub"] as? String == "t-1")
            #expect(claims["fleet"] as? String == "f9")
            #expect(claims["scope"] as? String == "telemetry:write")

            let json = try await h.call(
                .post, "/v1/token", json: ["grant_type": "refresh_token", "refresh_token": second])
            #expect(json.status == .ok)
            #expect(try ProvisioningHarness.object(json)["refresh_token"] as? String != second)

            // Percent-encoded form values are decoded.
            let third = try #require(try ProvisioningHarness.object(json)["refresh_token"] as? String)
            let encoded = third.replacingOccurrences(of: "_", with: "%5F")
            let percent = try await h.call(
                .post, "/v1/token", body: "refresh_token=\(encoded)&grant_type=refresh_token",
                contentType: "application/x-www-form-urlencoded; charset=utf-8")
            #expect(percent.status == .ok)
        }
    }

    @Test("bad /v1/token requests: 415, 400 invalid_request, 401 invalid_refresh_token, 413")
    func badRequests() async throws {
        try await ProvisioningHarness.run { h in
            let plain = try await h.call(
                .post, "/v1/token", body: "grant_type=refresh_token&refresh_token=x", contentType: "text/plain")
            #expect(plain.status == .unsupportedMediaType)
            #expect(ProvisioningHarness.code(plain) == "unsupported_media_type")

            let form = "application/x-www-form-urlencoded"
            for body in ["grant_type=password&refresh_token=x", "grant_type=refresh_token", "refresh_token=x"] {
                let response = try await h.call(.post, "/v1/token", body: body, contentType: form)
                #expect(response.status == .badRequest, "\(body)")
                #expect(ProvisioningHarness.code(response) == "invalid_request", "\(body)")
            }
            let badJSON = try await h.call(.post, "/v1/token", body: "{", contentType: "application/json")
            #expect(ProvisioningHarness.code(badJSON) == "invalid_request")
            for body in [
                #"{"grant_type":"refresh_token","refresh_token":5}"#, #"["refresh_token"]"#,
                #"{"grant_type":"refresh_token"}"#, #"{"grant_type":"refresh_token","refresh_token":"x",}"#,
            ] {
                let response = try await h.call(.post, "/v1/token", body: body, contentType: "application/json")
                #expect(response.status == .badRequest, "\(body)")
                #expect(ProvisioningHarness.code(response) == "invalid_request", "\(body)")
            }

            let unknown = try await h.refresh("fgr_unknown")
            #expect(unknown.status == .unauthorized)
            #expect(ProvisioningHarness.code(unknown) == "invalid_refresh_token")
            #expect(unknown.headers[.wwwAuthenticate] != nil)

            let huge = try await h.call(
                .post, "/v1/token", body: "refresh_token=" + String(repeating: "a", count: 9000), contentType: form)
            #expect(huge.status.code == 413)
            #expect(ProvisioningHarness.code(huge) == "payload_too_large")
        }
    }

    @Test("a rotated token works again within the grace window; after it, reuse revokes every refresh token")
    func graceAndReuse() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login()
            let r0 = try #require(try await h.enroll("g-1", token: admin)["refresh_token"] as? String)
            let other = try #require(try await h.enroll("g-2", token: admin)["refresh_token"] as? String)

            let first = try await h.refresh(r0)
            #expect(first.status == .ok)
            let r1 = try #require(try ProvisioningHarness.object(first)["refresh_token"] as? String)

            // The device lost the answer and retries 30 s later: still fine.
            h.clock.advance(by: 30)
            let retry = try await h.refresh(r0)
            #expect(retry.status == .ok)
            let r2 = try #require(try ProvisioningHarness.object(retry)["refresh_token"] as? String)
            #expect(r2 != r1)

            // 61 s after the rotation the old token is reuse.
            h.clock.advance(by: 31)
            let reuse = try await h.refresh(r0)
            #expect(reuse.status == .unauthorized)
            #expect(ProvisioningHarness.code(reuse) == "refresh_token_reused")
            #expect(reuse.headers[.wwwAuthenticate]?.contains("invalid_token") == true)

            // Every refresh token of that device is now refused, even the newest.
            for token in [r1, r2, r0] {
                let response = try await h.refresh(token)
                #expect(response.status == .unauthorized)
                #expect(["invalid_refresh_token", "refresh_token_reused"].contains(ProvisioningHarness.code(response)))
            }
            #expect(
                try await h.scalar(
                    "SELECT count(*)::int8 FROM refresh_tokens WHERE device_id = 'g-1' AND NOT revoked") == 0)
            // Other devices are unaffected.
            #expect(try await h.refresh(other).status == .ok)

            // Re-issued credentials bring the device back.
            let reissued = try await h.call(.post, "/v1/devices/g-1/credentials", token: try await h.login())
            let fresh = try #require(try ProvisioningHarness.object(reissued)["refresh_token"] as? String)
            #expect(try await h.refresh(fresh).status == .ok)
        }
    }

    @Test("the grace window is configurable")
    func configurableGrace() async throws {
        try await ProvisioningHarness.run(configure: { $0.refreshGraceSeconds = 5 }) { h in
            let r0 = try #require(try await h.enroll("cg", token: try await h.login())["refresh_token"] as? String)
            #expect(try await h.refresh(r0).status == .ok)
            h.clock.advance(by: 6)
            #expect(ProvisioningHarness.code(try await h.refresh(r0)) == "refresh_token_reused")
        }
    }

    @Test("a rotated token's successor keeps rotating normally after the grace window")
    func chain() async throws {
        try await ProvisioningHarness.run { h in
            var token = try #require(try await h.enroll("ch", token: try await h.login())["refresh_token"] as? String)
            for _ in 0..<4 {
                h.clock.advance(by: 120)
                let response = try await h.refresh(token)
                #expect(response.status == .ok)
                token = try #require(try ProvisioningHarness.object(response)["refresh_token"] as? String)
            }
        }
    }
}
