import FleetCore
import FleetStore
import FleetTestSupport
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Testing

@Suite("Row encoding and partitions")
struct StorageTests {
    @Test("awkward strings and times round-trip through the writer into PostgreSQL unchanged")
    func roundTrip() async throws {
        let now = (Date().timeIntervalSince1970 * 1_000_000).rounded() / 1_000_000
        let nasty = "tab\there\nnew line\\back\\slash\rCR \\N end"
        let batch = TelemetryBatch(
            deviceID: "rt-1", idempotencyKey: nil,
            records: [
                ResolvedRecord(name: "s", unit: "u\tnit", time: now, value: .string(nasty), sum: nil),
                ResolvedRecord(name: "n", unit: nil, time: now + 0.000001, value: .number(0.1 + 0.2), sum: 1e-300),
                ResolvedRecord(name: "b", unit: nil, time: now, value: .bool(true), sum: nil),
                ResolvedRecord(name: "d", unit: nil, time: now, value: .data("AAEC"), sum: nil),
                // Each column type's other values, as the binary array columns encode them (+1.5 s:
                // partitions exist from today on, ahead of time).
                ResolvedRecord(name: "f", unit: nil, time: now, value: .bool(false), sum: nil),
                ResolvedRecord(name: "té", unit: "°C", time: now, value: .string("naïve ✓"), sum: nil),
                ResolvedRecord(name: "z", unit: nil, time: now + 1.5, value: nil, sum: -2.5),
            ])
        try await WriterHarness.run { harness, _ in
            #expect(try await harness.writer.write(batch) == .stored(7))
            let rows = try await harness.client.query(
                """
                SELECT name, unit, value, string_value, bool_value, data_value, sum,
                       (extract(epoch from time) * 1000000)::int8 FROM telemetry ORDER BY name
                """,
                logger: TestDatabase.logger
            ).collect()
            var byName: [String: PostgresRow] = [:]
            for row in rows { byName[try row.decode(String.self, context: .default)] = row }
            typealias Row = (String, String?, Double?, String?, Bool?, String?, Double?, Int64)
            let s = try #require(byName["s"]).decode(Row.self)
            #expect(s.1 == "u\tnit")
            #expect(s.3 == nasty)
            #expect(s.7 == Int64((now * 1_000_000).rounded()))
            let n = try #require(byName["n"]).decode(Row.self)
            #expect(n.2 == 0.1 + 0.2)
            #expect(n.6 == 1e-300)
            #expect(n.7 == Int64((now * 1_000_000).rounded()) + 1)
            let b = try #require(byName["b"]).decode(Row.self)
            #expect(b.4 == true)
            let d = try #require(byName["d"]).decode(Row.self)
            let data: String? = d.5
            #expect(data == "AAEC")
            let f = try #require(byName["f"]).decode(Row.self)
            #expect(f.4 == false && f.2 == nil)
            let accented = try #require(byName["té"]).decode(Row.self)
            #expect(accented.1 == "°C" && accented.3 == "naïve ✓")
            let sumOnly = try #require(byName["z"]).decode(Row.self)
            #expect(sumOnly.2 == nil && sumOnly.3 == nil && sumOnly.4 == nil && sumOnly.5 == nil)
            #expect(sumOnly.6 == -2.5 && sumOnly.7 == Int64((now * 1_000_000).rounded()) + 1_500_000)
        }
    }

    @Test("a logged database error names its SQLSTATE and message, never the key it was about")
    func errorSummary() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: TestDatabase.logger) { client in
            try await client.query(
                "CREATE TABLE secrets (hash bytea PRIMARY KEY)", logger: TestDatabase.logger)
            let hash = ByteBuffer(bytes: [0xAB, 0xCD, 0xEF, 0x12, 0x34])
            try await client.query("INSERT INTO secrets VALUES (\(hash))", logger: TestDatabase.logger)
            do {
                try await client.query("INSERT INTO secrets VALUES (\(hash))", logger: TestDatabase.logger)
                Issue.record("a duplicate key was accepted")
            } catch {
                let summary = DatabaseErrorSummary.describe(error)
                #expect(summary.contains("23505"), "\(summary)")
                #expect(summary.contains("secrets_pkey"), "\(summary)")
                // PostgreSQL's detail names the key; String(reflecting:) would have printed it.
                #expect(String(reflecting: error).lowercased().contains("abcdef1234"))
                #expect(!summary.lowercased().contains("abcdef1234"), "\(summary)")
            }
        }
    }

    @Test("maintenance behind a long reader gives up after its lock timeout instead of queueing writers")
    func maintenanceLockTimeout() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: TestDatabase.logger) { client in
            let maintainer = PartitionMaintainer(
                client: client, retentionDays: 30, daysAhead: 3, logger: TestDatabase.logger)
            try await client.withConnection { reader in
                // A reader inside a transaction holds telemetry's ACCESS SHARE lock until it ends.
                try await reader.query("BEGIN", logger: TestDatabase.logger)
                _ = try await reader.query("SELECT count(*) FROM telemetry", logger: TestDatabase.logger).collect()
                let started = ContinuousClock.now
                await #expect(throws: (any Error).self) {
                    // Days no partition exists for yet: CREATE … PARTITION OF must lock telemetry.
                    try await maintainer.maintain(now: Date(timeIntervalSince1970: 1_764_400_000))
                }
                #expect(ContinuousClock.now - started < .seconds(15))
                try await reader.query("ROLLBACK", logger: TestDatabase.logger)
            }
            // Once the reader is gone, the next round does the work.
            #expect(try await maintainer.maintain(now: Date(timeIntervalSince1970: 1_764_400_000)))
        }
    }

    @Test("partitions are created ahead and those past retention dropped")
    func partitions() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: TestDatabase.logger) { client in
            try await client.query(
                "CREATE TABLE telemetry_20000101 PARTITION OF telemetry FOR VALUES FROM ('2000-01-01') TO ('2000-01-02')",
                logger: TestDatabase.logger)
            let maintainer = PartitionMaintainer(
                client: client, retentionDays: 30, daysAhead: 3, logger: TestDatabase.logger)
            let now = Date(timeIntervalSince1970: 1_764_400_000)  // 2025-11-29
            // A partition 40 days old (past retention) and one 20 days old (kept).
            for day in ["20251020", "20251109"] {
                let from = "\(day.prefix(4))-\(day.dropFirst(4).prefix(2))-\(day.suffix(2))"
                try await client.query(
                    PostgresQuery(
                        unsafeSQL:
                            "CREATE TABLE telemetry_\(day) PARTITION OF telemetry FOR VALUES FROM ('\(from)') TO ('\(from)'::date + 1)"
                    ),
                    logger: TestDatabase.logger)
            }
            #expect(try await maintainer.maintain(now: now))
        }
        func exists(_ name: String) async throws -> Bool {
            try await TestDatabase.scalar(url, "SELECT count(*)::int8 FROM pg_class WHERE relname = '\(name)'") == 1
        }
        #expect(try await exists("telemetry_20251129"))
        #expect(try await exists("telemetry_20251202"))  // 3 days ahead
        #expect(try await exists("telemetry_20251121"))  // 8 days back
        #expect(try await exists("telemetry_20251109"))
        #expect(try await !exists("telemetry_20251020"))
        #expect(try await !exists("telemetry_20000101"))
    }
}
