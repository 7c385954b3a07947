import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Provisioning
import Testing

@Suite("Audit log: who did what, never a secret")
struct AuditLogTests {
    @Test("logins, enrollments, revocations, re-issues, rotations and reuse are logged without secrets")
    func auditEvents() async throws {
        let capture = LogCapture()
        let secrets = try await ProvisioningHarness.run(
            logger: capture.logger(), configure: { $0.logLevel = .debug }
        ) { h in
            let admin = try await h.login()
            _ = try await h.call(.post, "/v1/login", json: ["username": "viewer", "password": "wrong-password!"])
            let enrolled = try await h.enroll("audit-1", token: admin)
            let refresh = try #require(enrolled["refresh_token"] as? String)
            let access = try #require(enrolled["access_token"] as? String)
            let bulk = try await h.call(
                .post, "/v1/devices/bulk", token: admin, body: #"{"id":"audit-2"}"#,
                contentType: "application/x-ndjson")
            let bulkToken = try #require(
                (try JSONSerialization.jsonObject(with: Data(bulk.body.readableBytesView)) as? [String: Any])?[
                    "refresh_token"] as? String)
            let first = try await h.refresh(refresh)
            let rotated = try #require(try ProvisioningHarness.object(first)["refresh_token"] as? String)
            h.clock.advance(by: 61)
            _ = try await h.refresh(refresh)  // reuse
            let reissued = try await h.call(.post, "/v1/devices/audit-1/credentials", token: admin)
            let newToken = try #require(try ProvisioningHarness.object(reissued)["refresh_token"] as? String)
            _ = try await h.call(.post, "/v1/devices/audit-1/revoke", token: admin)
            _ = try await h.call(.post, "/v1/keys/rotate", token: admin)
            _ = try await h.call(
                .post, "/v1/operators", token: admin,
                json: ["username": "carol", "password": "carols-secret-pw", "role": "operator"])
            _ = try await h.call(.delete, "/v1/devices/audit-2", token: admin)
            let hash = try await h.scalarText("SELECT password_hash FROM operators WHERE username = 'admin'")
            return [refresh, access, bulkToken, rotated, newToken, admin, hash, "carols-secret-pw", "wrong-password!"]
        }

        let events = capture.events
        func logged(_ message: String, _ metadata: [String: String] = [:]) -> Bool {
            events.contains { event in
                event.message == message && metadata.allSatisfy { event.metadata[$0.key] == $0.value }
            }
        }
        #expect(logged("login succeeded", ["username": "admin", "role": "admin"]))
        #expect(logged("login failed", ["username": "viewer"]))
        #expect(logged("device enrolled", ["by": "admin", "device_id": "audit-1"]))
        #expect(logged("bulk enrollment", ["by": "admin", "enrolled": "1"]))
        #expect(logged("refresh token reused; device's refresh tokens revoked", ["device_id": "audit-1"]))
        #expect(logged("device credentials re-issued", ["by": "admin", "device_id": "audit-1"]))
        #expect(logged("device revoked", ["by": "admin", "device_id": "audit-1"]))
        #expect(logged("signing key rotated", ["operator": "admin"]))
        #expect(logged("operator created", ["by": "admin", "username": "carol"]))
        #expect(logged("device deleted", ["by": "admin", "device_id": "audit-2"]))
        // Token issuance is counted, not logged per token.
        #expect(!events.contains { $0.message.contains("token issued") })

        for event in events {
            for secret in secrets {
                #expect(!event.text.contains(secret), "log \"\(event.message)\" holds a secret")
            }
            #expect(!event.text.contains("fgr_"), "log \"\(event.message)\" holds a refresh token")
            #expect(!event.text.contains(TestConfigurations.keyEncryptionKey))
        }
    }
}
