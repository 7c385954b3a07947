import FleetCore
import Foundation
import Logging
import PostgresNIO

/// A stored record as the read API answers it.
public struct StoredRecord: Sendable, Equatable {
    public let name: String
    public let unit: String?
    public let time: Double
    public let value: ResolvedRecord.Value?
    public let sum: Double?
}

/// Reads telemetry back for the provisioning read API.
public struct TelemetryReader: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Longest a read waits for a database connection before it is answered 503.
    let leaseTimeout: Duration

    public init(client: PostgresClient, logger: Logger, leaseTimeout: Duration = .seconds(5)) {
        self.client = client
        self.logger = logger
        self.leaseTimeout = leaseTimeout
    }

    static let columns =
        "name, unit, extract(epoch from time)::float8, value, string_value, bool_value, data_value, sum"

    /// Newest first, optionally one name and a [from, to) time range in Unix seconds.
    public func records(device: String, name: String?, from: Double?, to: Double?, limit: Int) async throws
        -> [StoredRecord]
    {
        var binds = PostgresBindings()
        binds.append(device)
        binds.append(name)
        binds.append(from.map { Date(timeIntervalSince1970: $0) })
        binds.append(to.map { Date(timeIntervalSince1970: $0) })
        binds.append(limit)
        return try await fetch(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(Self.columns) FROM telemetry
                    WHERE device_id = $1 AND ($2::text IS NULL OR name = $2)
                      AND ($3::timestamptz IS NULL OR time >= $3) AND ($4::timestamptz IS NULL OR time < $4)
                    ORDER BY time DESC, name LIMIT $5
                    """,
                binds: binds
            )
        )
    }

    /// The newest record of each name.
    public func latest(device: String) async throws -> [StoredRecord] {
        var binds = PostgresBindings()
        binds.append(device)
        return try await fetch(
            PostgresQuery(
                unsafeSQL: """
                    SELECT DISTINCT ON (name) \(Self.columns) FROM telemetry
                    WHERE device_id = $1 ORDER BY name, time DESC
                    """,
                binds: binds
            )
        )
    }

    private func fetch(_ query: PostgresQuery) async throws -> [StoredRecord] {
        try await client.withConnection(leaseTimeout: leaseTimeout) { connection in
            let rows = try await connection.query(query, logger: logger)
            var records: [StoredRecord] = []
            for try await (name, unit, time, v, vs, vb, vd, s) in rows.decode(
                (String, String?, Double, Double?, String?, Bool?, String?, Double?).self
            ) {
                let value: ResolvedRecord.Value? =
                    v.map { .number($0) } ?? vs.map { .string($0) } ?? vb.map { .bool($0) } ?? vd.map { .data($0) }
                records.append(StoredRecord(name: name, unit: unit, time: time, value: value, sum: s))
            }
            return records
        }
    }
}
