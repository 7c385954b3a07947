import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Provisioning
import Testing

@Suite("Provisioning while its database is unreachable")
struct DatabaseOutageTests {
    /// Refuses new connections to the test database and ends the open ones; `false` undoes it.
    func block(_ url: String, _ blocked: Bool) async throws {
        let name = try #require(URLComponents(string: url)?.path.dropFirst())
        try await TestDatabase.execute(
            TestDatabase.serverURL, "ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS \(blocked ? "false" : "true")")
        if blocked {
            try await TestDatabase.execute(
                TestDatabase.serverURL,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
        }
    }

    @Test("the JWKS is still served from the keys in hand, and the service recovers by itself")
    func jwksDuringOutage() async throws {
        let capture = LogCapture()
        try await ProvisioningHarness.run(logger: capture.logger(), configure: { $0.logLevel = .warning }) { h in
            let token = try await h.login()
            let before = try await h.call(.get, "/.well-known/jwks.json")
            try #require(before.status == .ok)
            try await block(h.databaseURL, true)
            do {
                h.clock.advance(by: 11)  // past the key ring's refresh interval: a reload is due and fails
                let during = try await h.call(.get, "/.well-known/jwks.json")
                #expect(during.status == .ok)
                #expect(String(buffer: during.body) == String(buffer: before.body))
                // It was served because the reload failed, not because none was due.
                #expect(
                    capture.events.contains { $0.message.contains("key ring reload failed") },
                    "\(capture.events.map(\.text).suffix(8))")
            } catch {
                try await block(h.databaseURL, false)
                throw error
            }
            try await block(h.databaseURL, false)
            // The pool reconnects on its own; the first requests may still meet its back-off.
            var status: HTTPResponse.Status = .serviceUnavailable
            for _ in 0..<60 where status != .ok {
                status = try await h.call(.get, "/v1/devices", token: token).status
                if status != .ok { try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(status == .ok)
        }
    }
}
