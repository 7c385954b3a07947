import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import FleetStore

@Suite("Revocation feed (LISTEN/NOTIFY and full reloads, real PostgreSQL)")
struct RevocationFeedTests {
    struct NotApplied: Error, CustomStringConvertible {
        var description: String { "no notification was applied within 10 s" }
    }

    /// What the feed's test hook and the test share.
    final class Race: Sendable {
        /// Notifications the feed applied.
        let applied = Atomic<Int>(0)
        /// The change the next reload makes between its read and its replace, once.
        let pending = Mutex<(@Sendable () async throws -> Void)?>(nil)

        /// Waits (at most 10 s) until the feed has applied more than `count` notifications.
        func waitForApplied(after count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while applied.load(ordering: .relaxed) <= count {
                guard ContinuousClock.now < deadline else {
                    throw NotApplied()
                }
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        /// Makes `change` in the middle of the next reload and waits until its notification is applied.
        func duringNextReload(_ change: @escaping @Sendable () async throws -> Void) {
            pending.withLock {
                $0 = {
                    let before = self.applied.load(ordering: .relaxed)
                    try await change()
                    try await self.waitForApplied(after: before)
                }
            }
        }

        func runPending() async {
            guard let change = pending.withLock({ $0.take() }) else { return }
            do { try await change() } catch { Issue.record(error, "the change made during the reload failed") }
        }
    }

    @Test("a device revoked while a reload reads stays revoked, and one re-credentialed then stays usable")
    func notificationDuringReload() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: TestDatabase.logger) { client in
            let devices = DeviceRepository(client: client, logger: TestDatabase.logger)
            let hash = [UInt8](repeating: 1, count: 32)
            let enrolled = try await devices.enroll(
                [EnrollmentRequest(id: "race-1", fleet: "f", labelsJSON: "{}", refreshTokenHash: hash)], now: Date())
            #expect(enrolled == ["race-1"])

            let race = Race()
            let view = RevocationView()
            // No periodic reload within the test: the test calls each one itself.
            let feed = RevocationFeed(
                client: client, view: view, reloadInterval: .seconds(3600), logger: TestDatabase.logger,
                onApplied: { race.applied.add(1, ordering: .relaxed) },
                afterReloadRead: { await race.runPending() }
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await feed.run() }
                defer { group.cancelAll() }
                // LISTEN is up once a notification gets through (the feed may not have connected yet).
                while race.applied.load(ordering: .relaxed) == 0 {
                    let probe = RevocationFeed.payload(device: "probe", disabled: false, cutoff: 0)
                    try await client.query(
                        "SELECT pg_notify(\(RevocationFeed.channel), \(probe))", logger: TestDatabase.logger)
                    try await Task.sleep(for: .milliseconds(50))
                }

                // The reload reads "race-1 active", the revocation commits and is applied, then the
                // reload's rows replace the view.
                race.duringNextReload {
                    let revoked = try await devices.revoke(id: "race-1", now: Date())
                    #expect(revoked)
                }
                try await feed.reload()
                #expect(
                    view.isRevoked(device: "race-1", issuedAt: Int64(Date().timeIntervalSince1970) + 3600),
                    "the reload's older snapshot let a just-revoked device back in")

                // Re-credentialing sends `disabled: false`; a reload that read "revoked" must not undo it.
                race.duringNextReload {
                    let reissued = try await devices.reissue(
                        id: "race-1", refreshTokenHash: [UInt8](repeating: 2, count: 32), now: Date())
                    #expect(reissued)
                }
                try await feed.reload()
                let cutoff = try #require(try await devices.find(id: "race-1")).revokedBefore
                #expect(!view.isRevoked(device: "race-1", issuedAt: cutoff), "a re-credentialed device stays refused")
                #expect(view.isRevoked(device: "race-1", issuedAt: cutoff - 1), "tokens before the cut-off stay dead")

                // With nothing in flight, a reload is the truth again.
                try await feed.reload()
                #expect(!view.isRevoked(device: "race-1", issuedAt: cutoff))
                #expect(!view.isRevoked(device: "probe", issuedAt: 0))
            }
        }
    }
}
