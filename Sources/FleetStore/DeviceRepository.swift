import FleetCore
import FleetNIO
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// A device as stored in the registry.
public struct DeviceRecord: Sendable, Equatable {
    public let id: String
    public let fleet: String
    /// The labels as a JSON object text.
    public let labelsJSON: String
    public let status: String
    public let revokedBefore: Int64
    public let createdAt: Date
    public let lastSeenAt: Date?
}

/// What a refresh-token exchange found.
public enum RefreshExchange: Sendable, Equatable {
    /// Rotated: the presented token is now the previous one; the new one is stored.
    case rotated(DeviceRecord)
    /// Presented within the grace window after rotation: another successor was stored.
    case retried(DeviceRecord)
    /// Presented after the grace window: every refresh token of the device (its id) is now revoked.
    case reused(String)
    /// Unknown, revoked or belonging to a revoked device.
    case invalid
    case deviceRevoked
}

/// One line of a bulk enrollment.
public struct EnrollmentRequest: Sendable {
    public let id: String
    public let fleet: String
    public let labelsJSON: String
    public let refreshTokenHash: [UInt8]

    public init(id: String, fleet: String, labelsJSON: String, refreshTokenHash: [UInt8]) {
        self.id = id
        self.fleet = fleet
        self.labelsJSON = labelsJSON
        self.refreshTokenHash = refreshTokenHash
    }
}

/// The device registry, refresh tokens and revocations (with their NOTIFY).
public struct DeviceRepository: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Longest a registry call waits for a database connection before it is answered 503.
    let leaseTimeout: Duration
    let exchanges: NaturalBatcher<PendingExchange, RefreshExchange>
    /// Bounds every refresh-token exchange: a statement whose backend was killed can wait forever
    /// in postgres-nio, and the token requests of its batch with it. Its `run()` must be running
    /// (provisioning runs it as a service) for `exchangeTimeout` to be enforced.
    public let watchdog: TransactionWatchdog

    public init(
        client: PostgresClient, logger: Logger, exchangeTimeout: Duration = .seconds(30),
        leaseTimeout: Duration = .seconds(5)
    ) {
        self.client = client
        self.logger = logger
        self.leaseTimeout = leaseTimeout
        // A tenth of the timeout, at most a second, as for the ingest writer.
        let watchdog = TransactionWatchdog(interval: min(exchangeTimeout / 10, .seconds(1)))
        self.watchdog = watchdog
        self.exchanges = Self.exchangeBatcher(
            client: client, watchdog: watchdog, timeout: exchangeTimeout, leaseTimeout: leaseTimeout, logger: logger)
    }

    static let columns = "id, fleet, labels::text, status, revoked_before, created_at, last_seen_at"

    static func decode(_ row: PostgresRow) throws -> DeviceRecord {
        let (id, fleet, labels, status, cutoff, created, seen) = try row.decode(
            (String, String, String, String, Int64, Date, Date?).self
        )
        return DeviceRecord(
            id: id, fleet: fleet, labelsJSON: labels, status: status, revokedBefore: cutoff, createdAt: created,
            lastSeenAt: seen
        )
    }

    /// Enrolls many devices in one round trip; returns the ids that were created (the others were taken).
    /// A re-used id of a deleted device gets a revocation cut-off, so the old device's tokens stay dead.
    public func enroll(_ requests: [EnrollmentRequest], now: Date) async throws -> Set<String> {
        guard !requests.isEmpty else { return [] }
        let ids = requests.map(\.id)
        let fleets = requests.map(\.fleet)
        let labels = requests.map(\.labelsJSON)
        let hashes = requests.map { ByteBuffer(bytes: $0.refreshTokenHash) }
        let cutoff = Int64(now.timeIntervalSince1970.rounded(.down)) + 1
        // A bulk enrollment of a million devices takes over a minute here: bounded generously.
        return try await client.withTransaction(leaseTimeout: leaseTimeout, bodyTimeout: .seconds(600), logger: logger)
        { connection in
            var created = Set<String>()
            // An id of a deleted device starts past the old device's cut-off (and past now), so no
            // token the old device held can pass, even one minted within this same second.
            let rows = try await connection.query(
                """
                WITH input AS (
                    SELECT * FROM unnest(\(ids)::text[], \(fleets)::text[], \(labels)::text[]) AS t(id, fleet, labels)
                ), gone AS (
                    DELETE FROM device_tombstones WHERE id IN (SELECT id FROM input) RETURNING id, revoked_before
                )
                INSERT INTO devices (id, fleet, labels, created_at, revoked_before)
                SELECT input.id, input.fleet, input.labels::jsonb, \(now),
                       CASE WHEN gone.id IS NULL THEN 0 ELSE GREATEST(\(cutoff), gone.revoked_before) END
                FROM input LEFT JOIN gone ON gone.id = input.id
                ON CONFLICT (id) DO NOTHING RETURNING id, revoked_before
                """,
                logger: logger
            )
            var reused: [(String, Int64)] = []
            for try await (id, revokedBefore) in rows.decode((String, Int64).self) {
                created.insert(id)
                if revokedBefore > 0 { reused.append((id, revokedBefore)) }
            }
            // Ingest nodes still hold the deleted device as disabled: tell them it is back.
            for (id, revokedBefore) in reused {
                try await notify(device: id, disabled: false, cutoff: revokedBefore, on: connection)
            }
            let keep = requests.indices.filter { created.contains(requests[$0].id) }
            if !keep.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO refresh_tokens (token_hash, device_id, created_at)
                    SELECT * , \(now)::timestamptz FROM unnest(\(keep.map { hashes[$0] })::bytea[], \(keep.map { ids[$0] })::text[])
                    """,
                    logger: logger
                )
            }
            return created
        }
    }

    public func find(id: String) async throws -> DeviceRecord? {
        try await client.withConnection(leaseTimeout: leaseTimeout) { connection in
            let rows = try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM devices WHERE id = $1", binds: Self.binds(id)),
                logger: logger
            )
            for try await row in rows { return try Self.decode(row) }
            return nil
        }
    }

    /// Keyset pagination by id, optionally within one fleet.
    public func list(fleet: String?, after: String?, limit: Int) async throws -> [DeviceRecord] {
        var binds = PostgresBindings()
        binds.append(fleet)
        binds.append(after ?? "")
        binds.append(limit)
        return try await client.withConnection(leaseTimeout: leaseTimeout) { [binds] connection in
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT \(Self.columns) FROM devices
                        WHERE ($1::text IS NULL OR fleet = $1) AND id > $2 ORDER BY id LIMIT $3
                        """,
                    binds: binds
                ),
                logger: logger
            )
            var devices: [DeviceRecord] = []
            for try await row in rows { devices.append(try Self.decode(row)) }
            return devices
        }
    }

    /// Revokes the device and all its refresh tokens and tells every ingest node. False when unknown.
    public func revoke(id: String, now: Date) async throws -> Bool {
        try await revoke(id: id, clock: { now })
    }

    /// As `revoke(id:now:)`, with the time read from `clock` once the device row is locked.
    public func revoke(id: String, clock: @escaping @Sendable () -> Date) async throws -> Bool {
        try await client.withTransaction(leaseTimeout: leaseTimeout, logger: logger) { connection in
            // The lock waits for the device's exchanges in flight (migration 0007), possibly
            // seconds; the tokens those mint after committing are dated then, so the cut-off must
            // be read after the wait, not when the request came in. A statement of its own: an
            // UPDATE that waits for a lock computes its new row before the wait.
            try await connection.query("SELECT 1 FROM devices WHERE id = \(id) FOR UPDATE", logger: logger)
            let now = Int64(clock().timeIntervalSince1970.rounded(.down)) + 1
            // Past now and past the previous cut-off: tokens are dated no earlier than the cut-off
            // (TokenIssuer), so a second revocation within one second must still move it forward.
            let rows = try await connection.query(
                """
                UPDATE devices SET status = 'revoked', revoked_before = GREATEST(\(now), revoked_before + 1)
                WHERE id = \(id) RETURNING revoked_before
                """,
                logger: logger
            )
            var cutoff: Int64?
            for try await value in rows.decode(Int64.self) { cutoff = value }
            guard let cutoff else { return false }
            try await connection.query(
                "UPDATE refresh_tokens SET revoked = true WHERE device_id = \(id)", logger: logger)
            try await notify(device: id, disabled: true, cutoff: cutoff, on: connection)
            return true
        }
    }

    /// Replaces the device's refresh tokens with a new one and re-activates it. Tokens issued before
    /// an earlier revocation stay refused (the cut-off is kept). False when unknown.
    public func reissue(id: String, refreshTokenHash: [UInt8], now: Date) async throws -> Bool {
        try await client.withTransaction(leaseTimeout: leaseTimeout, logger: logger) { connection in
            let rows = try await connection.query(
                "UPDATE devices SET status = 'active' WHERE id = \(id) RETURNING revoked_before", logger: logger
            )
            var cutoff: Int64?
            for try await value in rows.decode(Int64.self) { cutoff = value }
            guard let cutoff else { return false }
            try await connection.query(
                "UPDATE refresh_tokens SET revoked = true WHERE device_id = \(id)", logger: logger)
            try await connection.query(
                "INSERT INTO refresh_tokens (token_hash, device_id, created_at) VALUES (\(ByteBuffer(bytes: refreshTokenHash)), \(id), \(now))",
                logger: logger
            )
            try await notify(device: id, disabled: false, cutoff: cutoff, on: connection)
            return true
        }
    }

    /// Deletes the device and its credentials (and its telemetry with `purge`). False when unknown.
    public func delete(id: String, purge: Bool, now: Date) async throws -> Bool {
        try await delete(id: id, purge: purge, clock: { now })
    }

    /// As `delete(id:purge:now:)`, with the time read from `clock` once the device row is gone
    /// (the DELETE waited for exchanges in flight, as a revoke does).
    public func delete(id: String, purge: Bool, clock: @escaping @Sendable () -> Date) async throws -> Bool {
        try await client.withTransaction(leaseTimeout: leaseTimeout, logger: logger) { connection in
            let rows = try await connection.query(
                "DELETE FROM devices WHERE id = \(id) RETURNING revoked_before", logger: logger
            )
            var previous: Int64?
            for try await value in rows.decode(Int64.self) { previous = value }
            guard let previous else { return false }
            let now = clock()
            let cutoff = max(Int64(now.timeIntervalSince1970.rounded(.down)) + 1, previous + 1)
            try await connection.query(
                """
                INSERT INTO device_tombstones (id, deleted_at, revoked_before) VALUES (\(id), \(now), \(cutoff))
                ON CONFLICT (id) DO UPDATE SET deleted_at = excluded.deleted_at, revoked_before = excluded.revoked_before
                """,
                logger: logger
            )
            if purge {
                try await connection.query("DELETE FROM telemetry WHERE device_id = \(id)", logger: logger)
                try await connection.query("DELETE FROM idempotency_keys WHERE device_id = \(id)", logger: logger)
            }
            try await notify(device: id, disabled: true, cutoff: 0, on: connection)
            return true
        }
    }

    /// Exchanges a refresh token (RFC 6749 §6 with rotation): see `RefreshExchange`. Exchanges
    /// that arrive together share one statement, `exchange_refresh_tokens` (migration 0004).
    public func exchange(
        presentedHash: [UInt8], newHash: [UInt8], now: Date, grace: TimeInterval
    ) async throws -> RefreshExchange {
        try await exchanges.submit(
            PendingExchange(presentedHash: presentedHash, newHash: newHash, now: now, grace: grace))
    }

    /// The same exchange for a caller that does not suspend: `completion` runs once, on a thread
    /// of the batch that ran it, so it should hand real work (a signature) to a thread of its own.
    public func exchange(
        presentedHash: [UInt8], newHash: [UInt8], now: Date, grace: TimeInterval,
        completion: @escaping @Sendable (Result<RefreshExchange, any Error>) -> Void
    ) {
        exchanges.submit(
            PendingExchange(presentedHash: presentedHash, newHash: newHash, now: now, grace: grace),
            completion: completion)
    }

    struct PendingExchange: Sendable {
        let presentedHash: [UInt8]
        let newHash: [UInt8]
        let now: Date
        let grace: TimeInterval
    }

    /// Exchange batches run side by side, each on its own connection: the pool keeps
    /// this many open (`DatabaseURL.configuration(minConnections:)`).
    public static let exchangeLanes = 4

    /// Batches concurrent exchanges: a token request costs a share of one round trip, not one
    /// (BENCHMARKS.md, token issuance). Four lanes keep PostgreSQL busy while a batch commits.
    static func exchangeBatcher(
        client: PostgresClient, watchdog: TransactionWatchdog, timeout: Duration, leaseTimeout: Duration,
        logger: Logger
    ) -> NaturalBatcher<PendingExchange, RefreshExchange> {
        // Each lane on an event loop of the connections' group, as the ingest writer's workers: the
        // statement's answer then resumes the lane without waking a thread of the global pool.
        NaturalBatcher(
            lanes: exchangeLanes, maxBatch: 128,
            laneExecutor: {
                EventLoopTaskExecutor(PostgresClient.defaultEventLoopGroup.next())
            }
        ) { take, executor in
            do {
                return try await TransactionDeadline<[RefreshExchange]>.run(
                    timeout, watchdog: watchdog, logger: logger, executor: executor
                ) { deadline in
                    try await client.withConnection(leaseTimeout: leaseTimeout, bodyTimeout: nil) { connection in
                        try deadline.attach(connection)
                        return try await exchangeAll(take, on: connection, logger: logger)
                    }
                }
            } catch let error as FleetError {
                throw error
            } catch {
                // The database failed (connection lost, lock timeout): nothing was exchanged, and
                // the device may retry with the same refresh token, as after any 503.
                logger.warning(
                    "refresh-token exchange failed", metadata: ["error": "\(DatabaseErrorSummary.describe(error))"])
                throw FleetError(.overloaded, "database unavailable; no token was exchanged", retryAfter: 1)
            }
        }
    }

    static func exchangeAll(_ take: [PendingExchange], on connection: PostgresConnection, logger: Logger)
        async throws -> [RefreshExchange]
    {
        let presented = take.map { ByteBuffer(bytes: $0.presentedHash) }
        let successors = take.map { ByteBuffer(bytes: $0.newHash) }
        let times = take.map(\.now)
        let graces = take.map(\.grace)
        let rows = try await connection.query(
            """
            SELECT ordinal, outcome, device_id, fleet, labels, status, revoked_before, created_at, last_seen_at
            FROM exchange_refresh_tokens(\(presented), \(successors), \(times), \(graces))
            """,
            logger: logger
        )
        var answers = [RefreshExchange?](repeating: nil, count: take.count)
        for try await row in rows {
            let (ordinal, outcome, id, fleet, labels, status, cutoff, created, seen) = try row.decode(
                (Int, String, String?, String?, String?, String?, Int64?, Date?, Date?).self
            )
            guard answers.indices.contains(ordinal - 1) else {
                throw FleetError(.internalError, "exchange_refresh_tokens answered position \(ordinal)")
            }
            switch outcome {
            case "rotated", "retried":
                guard let id, let fleet, let labels, let status, let cutoff, let created else {
                    throw FleetError(.internalError, "exchange_refresh_tokens answered \(outcome) without the device")
                }
                let device = DeviceRecord(
                    id: id, fleet: fleet, labelsJSON: labels, status: status, revokedBefore: cutoff,
                    createdAt: created, lastSeenAt: seen
                )
                answers[ordinal - 1] = outcome == "rotated" ? .rotated(device) : .retried(device)
            case "reused": answers[ordinal - 1] = .reused(id ?? "")
            case "device_revoked": answers[ordinal - 1] = .deviceRevoked
            default: answers[ordinal - 1] = .invalid
            }
        }
        return try answers.map { answer in
            guard let answer else { throw FleetError(.internalError, "exchange_refresh_tokens skipped a token") }
            return answer
        }
    }

    func notify(device: String, disabled: Bool, cutoff: Int64, on connection: PostgresConnection) async throws {
        let payload = RevocationFeed.payload(device: device, disabled: disabled, cutoff: cutoff)
        // Delivered at COMMIT, so listeners never see a change that rolled back.
        try await connection.query("SELECT pg_notify(\(RevocationFeed.channel), \(payload))", logger: logger)
    }

    static func binds(_ values: String...) -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { binds.append(value) }
        return binds
    }
}
