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
    private let logger: Logger
    private let snapshot = Mutex<Snapshot?>(nil)
    /// When a token with an unknown kid last forced a reload (API.md: one rate-limited refresh).
    private let lastForcedReload = Mutex<Date?>(nil)
    /// At most one forced reload per second, so tokens with made-up kids cannot drive database load.
    static let forcedReloadInterval: TimeInterval = 1

    /// How often a replica re-reads the ring, so a rotation made by another replica reaches it.
    static let defaultRefreshInterval: TimeInterval = 10

    init(
        repository: SigningKeyRepository, clock: any WallClock, refreshInterval: TimeInterval = defaultRefreshInterval,
        logger: Logger = Logger(label: "fleetgate.provisioning")
    ) {
        self.repository = repository
        self.logger = logger
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

    /// The first read, at start. A request's lease bound is too short a bound for it: on a machine
    /// busy with the whole test suite a connection took longer than the 1 s one test sets, and the
    /// application failed to start. A read that gets no connection is tried again until `patience`
    /// has passed; other errors fail the start at once.
    func loadAtStart(patience: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + patience
        while true {
            do {
                return try await reload()
            } catch is DatabaseLeaseTimeout where ContinuousClock.now < deadline {
                logger.notice("no database connection yet for the key ring's first read; trying again")
            }
        }
    }

    /// The snapshot, unless it is due to be re-read.
    private func freshSnapshot(now: Date) -> Snapshot? {
        snapshot.withLock { snap in
            guard let snap, now.timeIntervalSince(snap.loadedAt) < refreshInterval else { return nil }
            return snap
        }
    }

    private func fresh() async throws -> Snapshot {
        let now = clock.now()
        if let snap = freshSnapshot(now: now) { return snap }
        do {
            if snapshot.withLock({ $0 == nil }) {
                try await reload()
            } else {
                try await reload(within: Self.reloadWait)
            }
        } catch {
            // The keys in hand stay good while PostgreSQL is away: a key leaves the published set
            // only after every token it signed has expired, and nothing can be issued without the
            // database anyway. So the JWKS and operator tokens keep working; the next request
            // tries again only after `retryAfterFailure`, so an outage does not cost every one a wait.
            let stale = snapshot.withLock { snap -> Snapshot? in
                guard var kept = snap else { return nil }
                kept.loadedAt = now.addingTimeInterval(Self.retryAfterFailure - refreshInterval)
                snap = kept
                return kept
            }
            guard let stale else { throw error }
            logger.warning(
                "key ring reload failed; serving the keys loaded before",
                metadata: ["error": "\(DatabaseErrorSummary.describe(error))"])
            return stale
        }
        guard let snap = snapshot.withLock({ $0 }) else { throw FleetError(.internalError, "key ring not loaded") }
        return snap
    }

    /// How soon a failed reload is tried again.
    static let retryAfterFailure: TimeInterval = 1
    /// How long a request waits for a reload while it has keys to fall back on: while PostgreSQL is
    /// unreachable, the pool keeps a connection request waiting until its circuit breaker trips
    /// (15 s or more).
    static let reloadWait: Duration = .seconds(2)

    /// Not a task group: one waits for every child, so a reload stuck in the pool would hold the
    /// request for as long as the reload takes. A reload past the limit is cancelled and left to end
    /// by itself.
    private func reload(within limit: Duration) async throws {
        let outcome = await firstWithin(limit) { () -> Result<Void, any Error> in
            do {
                try await self.reload()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        guard let outcome else { throw FleetError(.overloaded, "key ring reload took longer than \(limit)") }
        try outcome.get()
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
    /// The current key without suspending, or nil when the ring is due to be re-read (then
    /// `currentKey()` reads it).
    func currentKeyIfFresh() -> SigningKey? {
        freshSnapshot(now: clock.now())?.current
    }
    func published() async throws -> JWKSDocument { try await fresh().published }
    func verificationKeys() async throws -> PublicKeySet { try await fresh().verification }

    /// Makes `key` current; the previous key stays published for `publishOldFor` seconds.
    func rotate(to key: SigningKey, publishOldFor seconds: Int) async throws {
        try await repository.makeCurrent(key, publishOldFor: seconds, now: clock.now())
        try await reload()
    }
}
