import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Provisioning
import Testing

/// The permission matrix of API.md, table-driven: every operator endpoint against every role, no
/// token, and a device token (audience fleetgate-ingest).
@Suite("Permission matrix of the provisioning endpoints")
struct PermissionMatrixTests {
    enum Caller: String, CaseIterable, CustomStringConvertible {
        case admin, `operator`, viewer, anonymous, device
        var description: String { rawValue }
    }

    /// Who may call an endpoint: every role, operator and admin, or admin only.
    enum Allowed {
        case anyRole, manageDevices, adminOnly

        func permits(_ caller: Caller) -> Bool {
            switch (self, caller) {
            case (_, .anonymous), (_, .device): return false
            case (.anyRole, _): return true
            case (.manageDevices, .admin), (.manageDevices, .operator): return true
            case (.adminOnly, .admin): return true
            default: return false
            }
        }
    }

    struct Endpoint: Sendable {
        let name: String
        let method: HTTPRequest.Method
        /// The path for a fresh device `id` and a unique `n`.
        let path: @Sendable (_ id: String, _ n: Int) -> String
        let allowed: Allowed
        let success: HTTPResponse.Status
        /// Builds the body and its content type.
        var body: @Sendable (_ n: Int) -> (String, String)? = { _ in nil }
    }

    static let endpoints: [Endpoint] = [
        Endpoint(
            name: "POST /v1/operators", method: .post, path: { _, _ in "/v1/operators" }, allowed: .adminOnly,
            success: .created,
            body: { n in
                (#"{"username":"new-\#(n)","password":"long-enough-password","role":"viewer"}"#, "application/json")
            }
        ),
        Endpoint(
            name: "POST /v1/devices", method: .post, path: { _, _ in "/v1/devices" }, allowed: .manageDevices,
            success: .created, body: { n in (#"{"id":"enrolled-\#(n)"}"#, "application/json") }
        ),
        Endpoint(
            name: "POST /v1/devices/bulk", method: .post, path: { _, _ in "/v1/devices/bulk" },
            allowed: .manageDevices, success: .ok,
            body: { n in (#"{"id":"bulk-\#(n)"}"# + "\n", "application/x-ndjson") }
        ),
        Endpoint(
            name: "GET /v1/devices", method: .get, path: { _, _ in "/v1/devices" }, allowed: .anyRole, success: .ok),
        Endpoint(
            name: "GET /v1/devices/{id}", method: .get, path: { id, _ in "/v1/devices/\(id)" }, allowed: .anyRole,
            success: .ok),
        Endpoint(
            name: "POST /v1/devices/{id}/revoke", method: .post, path: { id, _ in "/v1/devices/\(id)/revoke" },
            allowed: .manageDevices, success: .ok),
        Endpoint(
            name: "POST /v1/devices/{id}/credentials", method: .post,
            path: { id, _ in "/v1/devices/\(id)/credentials" }, allowed: .manageDevices, success: .ok),
        Endpoint(
            name: "DELETE /v1/devices/{id}", method: .delete, path: { id, _ in "/v1/devices/\(id)" },
            allowed: .adminOnly, success: .noContent),
        Endpoint(
            name: "GET /v1/devices/{id}/telemetry", method: .get, path: { id, _ in "/v1/devices/\(id)/telemetry" },
            allowed: .anyRole, success: .ok),
        Endpoint(
            name: "GET /v1/devices/{id}/latest", method: .get, path: { id, _ in "/v1/devices/\(id)/latest" },
            allowed: .anyRole, success: .ok),
        Endpoint(
            name: "POST /v1/keys/rotate", method: .post, path: { _, _ in "/v1/keys/rotate" }, allowed: .adminOnly,
            success: .ok),
    ]

    @Test("every endpoint answers each role, no token and a device token as API.md's matrix says")
    func matrix() async throws {
        try await ProvisioningHarness.run { h in
            let admin = try await h.login(.admin)
            var tokens: [Caller: String] = [
                .admin: admin, .operator: try await h.login(.operator), .viewer: try await h.login(.viewer),
            ]
            let device = try await h.enroll("token-holder", token: admin)
            tokens[.device] = try #require(device["access_token"] as? String)

            var n = 0
            for endpoint in Self.endpoints {
                for caller in Caller.allCases {
                    n += 1
                    let id = "target-\(n)"
                    try await h.enroll(id, token: admin)
                    let body = endpoint.body(n)
                    let response = try await h.call(
                        endpoint.method, endpoint.path(id, n), token: tokens[caller], body: body?.0,
                        contentType: body?.1)
                    let label = "\(endpoint.name) as \(caller)"
                    if endpoint.allowed.permits(caller) {
                        #expect(response.status == endpoint.success, "\(label): \(String(buffer: response.body))")
                        continue
                    }
                    #expect(response.headers[.contentType] == "application/problem+json", "\(label)")
                    let code = ProvisioningHarness.code(response)
                    switch caller {
                    case .anonymous:
                        #expect(response.status == .unauthorized, "\(label)")
                        #expect(code == "token_missing", "\(label)")
                        #expect(response.headers[.wwwAuthenticate] == "Bearer", "\(label)")
                    case .device:
                        #expect(response.status == .unauthorized, "\(label)")
                        #expect(code == "token_wrong_audience", "\(label)")
                        #expect(response.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
                    default:
                        #expect(response.status == .forbidden, "\(label)")
                        #expect(code == "insufficient_scope", "\(label)")
                    }
                    // A refused call changes nothing.
                    let stillThere = try await h.scalar(
                        "SELECT count(*)::int8 FROM devices WHERE id = '\(id)' AND status = 'active'")
                    #expect(stillThere == 1, "\(label) changed the device")
                }
            }
            // Only the permitted creations happened.
            #expect(try await h.scalar("SELECT count(*)::int8 FROM operators WHERE username LIKE 'new-%'") == 1)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE id LIKE 'enrolled-%'") == 2)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE id LIKE 'bulk-%'") == 2)
        }
    }

    @Test("the public endpoints need no token")
    func publicEndpoints() async throws {
        try await ProvisioningHarness.run { h in
            for path in ["/.well-known/jwks.json", "/healthz", "/readyz", "/metrics"] {
                let response = try await h.call(.get, path)
                #expect(response.status == .ok, "\(path)")
            }
            let login = try await h.call(
                .post, "/v1/login", json: ["username": "viewer", "password": ProvisioningHarness.password])
            #expect(login.status == .ok)
        }
    }
}
