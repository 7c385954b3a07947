import FleetAuth
import FleetCore
import FleetStore
import FleetTestSupport
import Foundation
import PostgresNIO
import Testing

/// An exchange whose successor is not committed yet, held open on a connection of its own, while
/// a revoke or a detected reuse revokes "every refresh token of the device" (API.md). The
/// successor must end up revoked too, or whoever holds it keeps a working chain.
@Suite("Refresh-token exchange in flight while the device's tokens are revoked")
struct RefreshExchangeLockTests {
    let logger = TestDatabase.logger

    /// Runs `during` while an exchange of `presented` (to a new successor) is uncommitted on another
    /// connection, then commits it and waits for `during`'s result.
    func withExchangeInFlight<T: Sendable>(
        url: String, presented: String, hold: Duration = .milliseconds(700),
        during: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withDatabase(url: url, logger: logger) { client in
            try await client.withConnection { connection in
                let logger = self.logger
                try await connection.query("BEGIN", logger: logger)
                let hash = ByteBuffer(bytes: RefreshToken.hash(presented))
                let successor = ByteBuffer(bytes: RefreshToken.hash(RefreshToken.generate()))
                let outcome = try await connection.query(
                    "SELECT outcome FROM exchange_refresh_token(\(hash), \(successor), now(), 60)", logger: logger
                ).collect().first?.decode(String.self)
                #expect(outcome == "rotated")
                let work = Task { try await during() }
                // Long enough for `during` to reach PostgreSQL and, with the locking, wait there.
                try await Task.sleep(for: hold)
                try await connection.query("COMMIT", logger: logger)
                return try await work.value
            }
        }
    }

    func liveTokens(_ url: String, device: String) async throws -> Int {
        try await TestDatabase.scalar(
            url, "SELECT count(*)::int8 FROM refresh_tokens WHERE device_id = '\(device)' AND NOT revoked")
    }

    @Test("a revoke waits for the exchange in flight and revokes its successor too")
    func revokeDuringExchange() async throws {
        try await RefreshExchangeTests.run(devices: 1) { repository, tokens, url in
            let revoked = try await withExchangeInFlight(url: url, presented: tokens[0]) {
                try await repository.revoke(id: "x-0", now: Date())
            }
            #expect(revoked)
            #expect(try await liveTokens(url, device: "x-0") == 0)
        }
    }

    @Test("a revoke that waited for an exchange reads its cut-off's time after the wait, not before")
    func cutoffAfterWaiting() async throws {
        try await RefreshExchangeTests.run(devices: 1) { repository, tokens, url in
            let asked = Date()
            _ = try await withExchangeInFlight(url: url, presented: tokens[0], hold: .milliseconds(1600)) {
                try await repository.revoke(id: "x-0", clock: { Date() })
            }
            // The exchange's access token is dated when it committed, after `asked` + 1.6 s: the
            // cut-off must be later than that second, or the token would pass once re-activated.
            let cutoff = try await TestDatabase.scalar(url, "SELECT revoked_before FROM devices WHERE id = 'x-0'")
            #expect(cutoff >= Int(asked.timeIntervalSince1970.rounded(.down)) + 2)
        }
    }

    @Test("a reuse detected while another exchange of the device is in flight revokes that exchange's successor")
    func reuseDuringExchange() async throws {
        try await RefreshExchangeTests.run(devices: 1) { repository, tokens, url in
            // tokens[0] was rotated an hour ago (to `current`): presenting it now is reuse.
            let current = RefreshToken.generate()
            let rotated = try await repository.exchange(
                presentedHash: RefreshToken.hash(tokens[0]), newHash: RefreshToken.hash(current),
                now: Date().addingTimeInterval(-3600), grace: 60)
            guard case .rotated = rotated else {
                Issue.record("first exchange: \(rotated)")
                return
            }
            let outcome = try await withExchangeInFlight(url: url, presented: current) {
                try await RefreshExchangeTests.exchange(repository, tokens[0])
            }
            #expect(outcome == .reused("x-0"))
            #expect(try await liveTokens(url, device: "x-0") == 0)
        }
    }
}
