import CoreMetrics
import FleetCore
import FleetStore
import FleetTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

/// Runs a `PostgresTelemetryWriter` against a fresh test database for the length of `body`.
struct WriterHarness: Sendable {
    let url: String
    let client: PostgresClient
    let writer: PostgresTelemetryWriter

    /// With `start: false` the writer's workers start only when the body calls `start()`, so a test
    /// can queue batches first and know what the first transaction takes.
    static func run<T: Sendable>(
        configuration: PostgresTelemetryWriter.Configuration = .init(connections: 2),
        start: Bool = true,
        _ body: @Sendable (WriterHarness, _ start: @Sendable () -> Void) async throws -> T
    ) async throws -> T {
        let url = try await TestDatabase.create()
        let client = PostgresClient(
            configuration: try DatabaseURL.configuration(url, maxConnections: 8), backgroundLogger: TestDatabase.logger)
        let writer = PostgresTelemetryWriter(
            client: client, configuration: configuration,
            metrics: WriterMetrics(factory: NOOPMetricsHandler.instance), logger: TestDatabase.logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            // Telemetry is partitioned by day; ingest creates the partitions before it serves.
            try await PartitionMaintainer(client: client, retentionDays: 30, logger: TestDatabase.logger)
                .maintain(now: Date())
            let (started, startContinuation) = AsyncStream<Void>.makeStream()
            group.addTask {
                for await _ in started {
                    try await writer.run()
                    return
                }
            }
            if start { startContinuation.yield() }
            let harness = WriterHarness(url: url, client: client, writer: writer)
            do {
                let result = try await body(harness) { startContinuation.yield() }
                writer.stop()
                startContinuation.yield()  // a writer never started still has to end
                startContinuation.finish()
                group.cancelAll()
                return result
            } catch {
                writer.stop()
                startContinuation.finish()
                group.cancelAll()
                throw error
            }
        }
    }

    /// Waits (without a time bound) until `rows` rows are queued.
    func waitUntilQueued(rows: Int) async throws {
        while writer.queuedRows < rows { try await Task.sleep(for: .milliseconds(5)) }
    }

    func scalar(_ sql: String) async throws -> Int {
        try await TestDatabase.scalar(url, sql)
    }

    /// A batch of `count` numeric records named `<prefix>.<index>`, at now.
    static func batch(
        device: String, key: String?, prefix: String, count: Int, now: Double = Date().timeIntervalSince1970
    ) -> TelemetryBatch {
        TelemetryBatch(
            deviceID: device, idempotencyKey: key,
            records: (0..<count).map {
                ResolvedRecord(name: "\(prefix).\($0)", unit: nil, time: now, value: .number(Double($0)), sum: nil)
            })
    }
}
