import FleetCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Creates the daily telemetry partitions ahead of time and drops the ones past retention. Runs at
/// start and then hourly; one node at a time does the work, under a try-lock so others skip.
public struct PartitionMaintainer: Service {
    static let advisoryLockID: Int64 = 0x464C_4545_5450_4152

    let client: PostgresClient
    let retentionDays: Int
    let daysAhead: Int
    let logger: Logger

    public init(client: PostgresClient, retentionDays: Int, daysAhead: Int = 3, logger: Logger) {
        self.client = client
        self.retentionDays = retentionDays
        self.daysAhead = daysAhead
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
                if Task.isCancelled { return }
                do {
                    try await maintain(now: Date())
                } catch {
                    logger.warning(
                        "partition maintenance failed", metadata: ["error": "\(DatabaseErrorSummary.describe(error))"])
                }
            }
        }
    }

    /// Ensures partitions from (retention) days back through `daysAhead` days ahead exist and drops
    /// older ones. Returns false when another node holds the lock.
    @discardableResult
    public func maintain(now: Date) async throws -> Bool {
        try await client.withConnection { connection in
            // A transaction-scoped lock: released by COMMIT/ROLLBACK, never left on a pooled connection.
            try await connection.query("BEGIN", logger: logger)
            do {
                let locked =
                    try await connection.query(
                        "SELECT pg_try_advisory_xact_lock(\(Self.advisoryLockID))", logger: logger
                    ).collect().first?.decode(Bool.self) ?? false
                guard locked else {
                    try await connection.query("ROLLBACK", logger: logger)
                    return false
                }
                // Creating or dropping a partition locks `telemetry` exclusively. Queued behind a long
                // reader (a pg_dump, a big read), that lock would hold every writer INSERT behind it;
                // giving up after a moment costs nothing, as partitions are made days ahead and the
                // next round (hourly) tries again.
                try await connection.query("SET LOCAL lock_timeout = '\(unescaped: Self.lockTimeout)'", logger: logger)
                try await work(on: connection, now: now)
                try await connection.query("COMMIT", logger: logger)
                return true
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    private func work(on connection: PostgresConnection, now: Date) async throws {
        let today = Int64(now.timeIntervalSince1970.rounded(.down)) / 86_400
        // Records may be up to 7 days old (API.md), so 8 days back always exist.
        for day in (today - 8)...(today + Int64(daysAhead)) {
            let name = Self.partitionName(day: day)
            let from = Self.dateText(day: day)
            let to = Self.dateText(day: day + 1)
            // Names and bounds are computed from integers above, never from input.
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "CREATE TABLE IF NOT EXISTS \(name) PARTITION OF telemetry FOR VALUES FROM ('\(from)') TO ('\(to)')"
                ),
                logger: logger
            )
        }
        let partitions = try await connection.query(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry'
            """,
            logger: logger
        ).collect()
        let oldest = today - Int64(retentionDays)
        for row in partitions {
            let name = try row.decode(String.self)
            guard let day = Self.day(fromPartitionName: name), day < oldest else { continue }
            try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(name)"), logger: logger)
            logger.info("telemetry partition dropped", metadata: ["partition": "\(name)"])
        }
    }

    static let lockTimeout = "2s"

    static func partitionName(day: Int64) -> String {
        "telemetry_" + dateText(day: day).replacingOccurrences(of: "-", with: "")
    }

    static func dateText(day: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents(
            [.year, .month, .day], from: Date(timeIntervalSince1970: Double(day) * 86_400))
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    static func day(fromPartitionName name: String) -> Int64? {
        guard name.hasPrefix("telemetry_"), name.count == 18 else { return nil }
        let digits = name.dropFirst(10)
        guard let y = Int(digits.prefix(4)), let m = Int(digits.dropFirst(4).prefix(2)), let d = Int(digits.suffix(2))
        else { return nil }
        var components = DateComponents()
        components.year = y
        components.month = m
        components.day = d
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components) else { return nil }
        return Int64(date.timeIntervalSince1970) / 86_400
    }
}
