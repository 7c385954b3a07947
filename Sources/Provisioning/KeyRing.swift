import CoreMetrics
import FleetAuth
import FleetCore
import FleetStore
import Foundation
import Logging
import Synchronization

/// The provisioning node's view of the shared key ring: the current signing key and the published
/// public keys, re-read from PostgreSQL at most every `refreshInterval` so a rotation made by another
/// replica is picked up (tokens signed meanwhile with the older key still verify: it stays published).
public final class KeyRing: Sendable {
    private struct Snapshot {
        var current: SigningKey
        var published: JWKSDocument
        var verification: PublicKeySet
        var loadedAt: Date
    }

    private let repository: SigningKeyRepository
    private let clock: any WallClock
    private let refreshInterval: TimeInterval
    private let snapshot = Mutex<Snapshot?>(nil)
    /// When a token with an unknown kid last forced a reload (API.md: one rate-limited refresh).
    private let lastForcedReload = Mutex<Date?>(nil)
    /// At most one forced reload per second, so tokens with made-up kids cannot drive database load.
    static let forcedReloadInterval: TimeInterval = 1

    init(repository: SigningKeyRepository, clock: any WallClock, refreshInterval: TimeInterval = 10) {
        self.repository = repository
        self.clock = clock
        self.refreshInterval = refreshInterval
    }

    var isLoaded: Bool { snapshot.withLock { $0 != nil } }

    /// Loads (or creates) the current key and the published set.
    func reload() async throws {
        let now = clock.now()
        let current = try await repository.currentKey()
        let published = try await repository.publishedKeys(now: now)
        snapshot.withLock {
            $0 = Snapshot(current: current, published: published, verification: PublicKeySet(published), loadedAt: now)
        }
    }

    private func fresh() async throws -> Snapshot {
        if let snap = snapshot.withLock({ $0 }), clock.now().timeIntervalSince(snap.loadedAt) < refreshInterval {
            return snap
        }
        try await reload()
        guard let snap = snapshot.withLock({ $0 }) else { throw FleetError(.internalError, "key ring not loaded") }
        return snap
    }

    /// Reloads for a kid that is not in the verification keys (a replica may have rotated a moment
    /// ago); false when a forced reload ran less than a second ago and this one was skipped.
    func reloadForUnknownKey() async throws -> Bool {
        let now = clock.now()
        let allowed = lastForcedReload.withLock { last in
            if let last, abs(now.timeIntervalSince(last)) < Self.forcedReloadInterval { return false }
            last = now
            return true
        }
        guard allowed else { return false }
        try await reload()
        return true
    }

    func currentKey() async throws -> SigningKey { try await fresh().current }
    func published() async throws -> JWKSDocument { try await fresh().published }
    func verificationKeys() async throws -> PublicKeySet { try await fresh().verification }

    /// Makes `key` current; the previous key stays published for `publishOldFor` seconds.
    func rotate(to key: SigningKey, publishOldFor seconds: Int) async throws {
        try await repository.makeCurrent(key, publishOldFor: seconds, now: clock.now())
        try await reload()
    }
}
