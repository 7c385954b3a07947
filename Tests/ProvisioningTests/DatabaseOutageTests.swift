import FleetAuth
import FleetStore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Provisioning
import Testing

@Suite("Provisioning while its database is unreachable")
struct DatabaseOutageTests {
    func block(_ url: String, _ blocked: Bool) async throws {
        try await TestDatabase.refuseConnections(url, blocked)
    }

    @Test("a request the database cannot serve now is 503 overloaded with Retry-After, and stores nothing")
    func overloadedWhileLocked() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login()
            let name = try #require(URLComponents(string: h.databaseURL)?.path.dropFirst())
            // Every new session of the database gives up a lock wait after 200 ms (SQLSTATE 55P03);
            // the open ones are ended so that the service's next connections are such sessions.
            try await TestDatabase.execute(TestDatabase.serverURL, "ALTER DATABASE \(name) SET lock_timeout = '200ms'")
            try await withDatabase(url: h.databaseURL, logger: TestDatabase.logger) { locker in
                try await locker.withConnection { connection in
                    try await connection.query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                        logger: TestDatabase.logger)
                    try await connection.query("BEGIN", logger: TestDatabase.logger)
                    try await connection.query(
                        "LOCK TABLE devices IN ACCESS EXCLUSIVE MODE", logger: TestDatabase.logger)
                    for _ in 0..<2 {  // the first may meet a connection that was just ended: 503 as well
                        let list = try await h.call(.get, "/v1/devices", token: token)
                        #expect(list.status == .serviceUnavailable)
                        #expect(ProvisioningHarness.code(list) == "overloaded")
                        #expect(list.headers[.retryAfter] == "1")
                        let enroll = try await h.call(.post, "/v1/devices", token: token, json: ["id": "locked-1"])
                        #expect(enroll.status == .serviceUnavailable)
                        #expect(ProvisioningHarness.code(enroll) == "overloaded")
                    }
                    try await connection.query("ROLLBACK", logger: TestDatabase.logger)
                }
            }
            try await TestDatabase.execute(TestDatabase.serverURL, "ALTER DATABASE \(name) RESET lock_timeout")
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices") == 0)
            #expect(try await h.call(.get, "/v1/devices", token: token).status == .ok)
        }
    }

    @Test("with no connection to be had, requests are answered 503 within database.leaseTimeoutSeconds")
    func leaseTimeoutWhileUnreachable() async throws {
        try await ProvisioningHarness.run(configure: { $0.databaseLeaseTimeoutSeconds = 1 }) { h in
            let token = try await h.login()
            try await block(h.databaseURL, true)
            // Time for the pool to see its ended connections close; a statement sent on one as it
            // closes can wait in postgres-nio until the body bound (30 s), not the lease bound.
            try await Task.sleep(for: .seconds(1))
            do {
                // The pool would keep these waiting until its circuit breaker trips (68 s here for
                // the first request after the outage began).
                for (method, path, body) in [
                    (HTTPRequest.Method.get, "/v1/devices", nil), (.post, "/v1/devices", ["id": "away-1"]),
                    (.get, "/v1/devices/away-1", nil),
                ] as [(HTTPRequest.Method, String, [String: String]?)] {
                    let started = ContinuousClock.now
                    let answer = try await h.call(method, path, token: token, json: body)
                    #expect(answer.status == .serviceUnavailable, "\(method) \(path)")
                    #expect(ProvisioningHarness.code(answer) == "overloaded", "\(method) \(path)")
                    #expect(answer.headers[.retryAfter] == "1")
                    #expect(ContinuousClock.now - started < .seconds(10), "\(method) \(path)")
                }
                let started = ContinuousClock.now
                let refresh = try await h.call(
                    .post, "/v1/token",
                    json: ["grant_type": "refresh_token", "refresh_token": RefreshToken.generate()])
                #expect(refresh.status == .serviceUnavailable)
                #expect(ContinuousClock.now - started < .seconds(10))
            } catch {
                try await block(h.databaseURL, false)
                throw error
            }
            try await block(h.databaseURL, false)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices") == 0)
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
                // Readiness answers, and says so, within its 2 s bound instead of waiting for the pool.
                let started = ContinuousClock.now
                let ready = try await h.call(.get, "/readyz")
                #expect(ready.status == .serviceUnavailable)
                #expect(String(buffer: ready.body).contains(#""database":false"#))
                #expect(ContinuousClock.now - started < .seconds(10))
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

    @Test("a replica started while its database refuses connections waits for it, then serves")
    func startsOnceTheDatabaseIsBack() async throws {
        let url = try await TestDatabase.create()
        try await Fixtures.createOperator(
            url: url, username: "admin", password: ProvisioningHarness.password, role: .admin)
        try await block(url, true)
        let outage = Duration.seconds(3)
        let reopen = Task {
            try await Task.sleep(for: outage)
            try await block(url, false)
        }
        let capture = LogCapture()
        let started = ContinuousClock.now
        do {
            // A 1 s lease: the key ring's first read times out at least twice before the database
            // lets connections in, and start-up goes on trying instead of failing.
            try await ProvisioningHarness.run(
                databaseURL: url, logger: capture.logger(),
                configure: {
                    $0.databaseLeaseTimeoutSeconds = 1
                    $0.logLevel = .notice
                }
            ) { h in
                try await reopen.value
                #expect(ContinuousClock.now - started >= outage, "served before the database let it connect")
                #expect(capture.events.contains { $0.message.contains("no database connection yet") })
                let jwks = try await h.call(.get, "/.well-known/jwks.json")
                #expect(jwks.status == .ok)
                _ = try await h.login()
            }
        } catch {
            reopen.cancel()
            try await block(url, false)
            throw error
        }
    }
}
