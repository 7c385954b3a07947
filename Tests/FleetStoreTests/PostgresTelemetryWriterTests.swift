import CoreMetrics
import FleetCore
import FleetStore
import FleetTestSupport
import Foundation
import Synchronization
import Testing

@Suite("Group-commit telemetry writer against PostgreSQL")
struct PostgresTelemetryWriterTests {
    @Test("a lone batch is committed and acknowledged with its record count")
    func loneBatch() async throws {
        try await WriterHarness.run { harness, _ in
            let outcome = try await harness.writer.write(
                WriterHarness.batch(device: "d1", key: nil, prefix: "lone", count: 3))
            #expect(outcome == .stored(3))
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry WHERE device_id = 'd1'") == 3)
        }
    }

    @Test("batches queued while the writer is busy share one transaction")
    func groupCommit() async throws {
        try await WriterHarness.run(configuration: .init(connections: 1), start: false) { harness, start in
            try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await harness.writer.write(
                            WriterHarness.batch(device: "d\(index)", key: "k", prefix: "g\(index)", count: 4))
                    }
                }
                try await harness.waitUntilQueued(rows: 40)
                start()
                for try await outcome in group { #expect(outcome == .stored(4)) }
            }
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry") == 40)
            // Rows written by one transaction share its xmin.
            #expect(try await harness.scalar("SELECT count(DISTINCT xmin::text)::int8 FROM telemetry") == 1)
            #expect(try await harness.scalar("SELECT count(DISTINCT xmin::text)::int8 FROM idempotency_keys") == 1)
        }
    }

    @Test("the row budget splits a long queue into several transactions, each batch whole")
    func rowBudget() async throws {
        try await WriterHarness.run(configuration: .init(connections: 1, rowBudget: 10), start: false) {
            harness, start in
            try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        try await harness.writer.write(
                            WriterHarness.batch(device: "d", key: nil, prefix: "b\(index)", count: 4))
                    }
                }
                try await harness.waitUntilQueued(rows: 24)
                start()
                for try await outcome in group { #expect(outcome == .stored(4)) }
            }
            // 4 + 4 fit in 10, a third batch does not: three transactions of two batches.
            #expect(try await harness.scalar("SELECT count(DISTINCT xmin::text)::int8 FROM telemetry") == 3)
            #expect(
                try await harness.scalar(
                    "SELECT count(*)::int8 FROM (SELECT 1 FROM telemetry GROUP BY left(name, 2) HAVING count(DISTINCT xmin::text) > 1) s"
                ) == 0)
        }
    }

    @Test("one idempotency key in one transaction and across transactions is stored once")
    func idempotencyInAndAcrossTakes() async throws {
        try await WriterHarness.run(configuration: .init(connections: 1), start: false) { harness, start in
            let outcomes = try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
                for index in 0..<5 {
                    group.addTask {
                        try await harness.writer.write(
                            WriterHarness.batch(device: "d", key: "same", prefix: "i\(index)", count: 2))
                    }
                }
                // The same key from another device is a different key.
                group.addTask {
                    try await harness.writer.write(
                        WriterHarness.batch(device: "other", key: "same", prefix: "o", count: 2))
                }
                try await harness.waitUntilQueued(rows: 12)
                start()
                var outcomes: [WriteOutcome] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(outcomes.filter { $0 == .stored(2) }.count == 2)
            #expect(outcomes.filter { $0 == .duplicate }.count == 4)
            let again = try await harness.writer.write(
                WriterHarness.batch(device: "d", key: "same", prefix: "late", count: 2))
            #expect(again == .duplicate)
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry WHERE device_id = 'd'") == 2)
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry WHERE device_id = 'other'") == 2)
        }
    }

    @Test("a key past its 24 h is claimed again, before the cleaner has deleted it")
    func expiredKeyReclaimed() async throws {
        try await WriterHarness.run(configuration: .init(connections: 1)) { harness, _ in
            #expect(
                try await harness.writer.write(WriterHarness.batch(device: "d", key: "k", prefix: "day1", count: 2))
                    == .stored(2))
            #expect(
                try await harness.writer.write(WriterHarness.batch(device: "d", key: "k", prefix: "again", count: 2))
                    == .duplicate)
            _ = try await harness.scalar(
                """
                WITH aged AS (UPDATE idempotency_keys SET created_at = now() - interval '25 hours' RETURNING 1)
                SELECT count(*)::int8 FROM aged
                """)
            #expect(
                try await harness.writer.write(WriterHarness.batch(device: "d", key: "k", prefix: "day2", count: 2))
                    == .stored(2))
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry WHERE device_id = 'd'") == 4)
            #expect(
                try await harness.scalar(
                    "SELECT count(*)::int8 FROM idempotency_keys WHERE created_at > now() - interval '1 hour'") == 1)
        }
    }

    @Test("a cancelled writer returns (a failed start-up cancels every service) instead of waiting for work")
    func cancelled() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: TestDatabase.logger) { client in
            let writer = PostgresTelemetryWriter(
                client: client, configuration: .init(connections: 2),
                metrics: WriterMetrics(factory: NOOPMetricsHandler.instance), logger: TestDatabase.logger)
            let running = Task { try await writer.run() }
            try await Task.sleep(for: .milliseconds(200))  // its workers are idle, waiting for work
            running.cancel()
            // A hung writer must fail the test, not hang it.
            let returned =
                await firstWithin(.seconds(20)) {
                    _ = try? await running.value
                    return true
                } ?? false
            #expect(returned, "the writer was still running 20 s after it was cancelled")
        }
    }

    @Test("a statement that failed to prepare does not stay failed: once the table is back, every write succeeds")
    func failedPrepareRecovers() async throws {
        try await WriterHarness.run(configuration: .init(connections: 1)) { harness, _ in
            _ = try await harness.scalar("ALTER TABLE telemetry RENAME TO telemetry_away")
            await #expect(throws: FleetError.self) {
                try await harness.writer.write(WriterHarness.batch(device: "d", key: nil, prefix: "gone", count: 2))
            }
            _ = try await harness.scalar("ALTER TABLE telemetry_away RENAME TO telemetry")
            // postgres-nio keeps a failed prepare's error per connection; the pool reuses its idle
            // connection, so without closing the failed one these writes would fail too.
            for index in 0..<6 {
                let outcome = try await harness.writer.write(
                    WriterHarness.batch(device: "d", key: nil, prefix: "back\(index)", count: 2))
                #expect(outcome == .stored(2))
            }
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry") == 12)
        }
    }

    @Test("a full queue refuses at once with overloaded and Retry-After")
    func queueFull() async throws {
        try await WriterHarness.run(configuration: .init(connections: 1, maxQueuedRows: 5), start: false) {
            harness, start in
            try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
                group.addTask {
                    try await harness.writer.write(WriterHarness.batch(device: "d", key: nil, prefix: "a", count: 4))
                }
                try await harness.waitUntilQueued(rows: 4)
                do throws(FleetError) {
                    _ = try await harness.writer.write(
                        WriterHarness.batch(device: "d", key: nil, prefix: "b", count: 2))
                    Issue.record("a write past maxQueuedRows was accepted")
                } catch {
                    #expect(error.code == .overloaded)
                    #expect(error.retryAfter == 1)
                }
                start()
                for try await outcome in group { #expect(outcome == .stored(4)) }
            }
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry") == 4)
        }
    }

    @Test("stopping drains what is queued, then refuses new batches")
    func stopDrains() async throws {
        try await WriterHarness.run(configuration: .init(connections: 2), start: false) { harness, start in
            try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await harness.writer.write(
                            WriterHarness.batch(device: "d", key: "k\(index)", prefix: "s\(index)", count: 3))
                    }
                }
                try await harness.waitUntilQueued(rows: 24)
                harness.writer.stop()
                start()
                for try await outcome in group { #expect(outcome == .stored(3)) }
            }
            await #expect(throws: FleetError.self) {
                try await harness.writer.write(WriterHarness.batch(device: "d", key: nil, prefix: "late", count: 1))
            }
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry") == 24)
        }
    }

    @Test("with no connection to be had, writes are answered overloaded within the lease bound, not the 30 s one")
    func leaseTimeoutWhileUnreachable() async throws {
        let configuration = PostgresTelemetryWriter.Configuration(
            connections: 2, transactionTimeout: .seconds(30), leaseTimeout: .seconds(1))
        try await WriterHarness.run(configuration: configuration) { harness, _ in
            let before = try await harness.writer.write(
                WriterHarness.batch(device: "d", key: nil, prefix: "before", count: 2))
            #expect(before == .stored(2))
            try await TestDatabase.refuseConnections(harness.url, true)
            do {
                // Time for the pool to see its ended connections close: a statement sent on one as
                // it closes is bounded by the transaction deadline, not the lease.
                try await Task.sleep(for: .seconds(1))
                for index in 0..<3 {
                    let started = ContinuousClock.now
                    do throws(FleetError) {
                        let outcome = try await harness.writer.write(
                            WriterHarness.batch(device: "d", key: "away\(index)", prefix: "away\(index)", count: 2))
                        Issue.record("a write was acknowledged while the database refused connections: \(outcome)")
                    } catch {
                        #expect(error.code == .overloaded)
                        #expect(error.retryAfter == 1)
                    }
                    // Without the lease bound the pool held these until the 30 s transaction deadline.
                    let waited = ContinuousClock.now - started
                    #expect(waited < .seconds(10), "write \(index) answered after \(waited)")
                }
            } catch {
                try await TestDatabase.refuseConnections(harness.url, false)
                throw error
            }
            try await TestDatabase.refuseConnections(harness.url, false)
            // The pool reconnects by itself; the first writes may still meet its back-off. The
            // withdrawn lease requests, served late, store nothing.
            var after: WriteOutcome?
            for _ in 0..<60 where after == nil {
                do throws(FleetError) {
                    after = try await harness.writer.write(
                        WriterHarness.batch(device: "d", key: "after", prefix: "after", count: 2))
                } catch {
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
            #expect(after == .stored(2))
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM telemetry") == 4)
            #expect(try await harness.scalar("SELECT count(*)::int8 FROM idempotency_keys") == 1)
        }
    }

    @Test("killed database connections: every acknowledged batch stored exactly once, and the writer recovers")
    func connectionsKilled() async throws {
        try await WriterHarness.run(configuration: .init(connections: 2, transactionTimeout: .seconds(2))) {
            harness, _ in
            let devices = 16
            let batchesPerDevice = 12
            let progress = ChaosProgress()
            let terminated = try await withThrowingTaskGroup(of: Int.self) { group in
                // The chaos: terminate every backend of the database but our own, 12 times while
                // the devices write (bounded, so the writer gets to recover before they run out).
                group.addTask {
                    var terminated = 0
                    for _ in 0..<12 where !progress.done.load(ordering: .relaxed) {
                        terminated += try await harness.scalar(
                            """
                            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int8 FROM pg_stat_activity
                            WHERE datname = current_database() AND pid <> pg_backend_pid()
                            """)
                        try await Task.sleep(for: .milliseconds(30))
                    }
                    return terminated
                }
                // The devices: each posts its batches in order, retrying a failure under the same key.
                for device in 0..<devices {
                    group.addTask {
                        for index in 0..<batchesPerDevice {
                            let batch = WriterHarness.batch(
                                device: "dev\(device)", key: "b\(index)", prefix: "b\(index)", count: 5)
                            while true {
                                do throws(FleetError) {
                                    let outcome = try await harness.writer.write(batch)
                                    #expect(outcome == .stored(5) || outcome == .duplicate)
                                    break
                                } catch {
                                    #expect(error.code == .overloaded)
                                    progress.failures.add(1, ordering: .relaxed)
                                    try await Task.sleep(for: .milliseconds(5))
                                }
                            }
                        }
                        return 0
                    }
                }
                var terminated = 0
                var finished = 0
                for try await result in group {
                    terminated += result
                    finished += 1
                    if finished == devices { progress.done.store(true, ordering: .relaxed) }
                }
                return terminated
            }
            #expect(terminated > 0, "the test killed connections")
            // Every batch was acknowledged; each is in the table exactly once.
            #expect(
                try await harness.scalar("SELECT count(*)::int8 FROM telemetry") == devices * batchesPerDevice * 5)
            #expect(
                try await harness.scalar(
                    "SELECT count(*)::int8 FROM (SELECT 1 FROM telemetry GROUP BY device_id, name HAVING count(*) > 1) s"
                )
                    == 0)
            // Recovered by itself: a fresh batch commits.
            let after = try await harness.writer.write(
                WriterHarness.batch(device: "after", key: nil, prefix: "after", count: 2))
            #expect(after == .stored(2))
            print(
                "writer chaos: \(terminated) backends terminated, \(progress.failures.load(ordering: .relaxed)) writes retried"
            )
        }
    }
}

/// Shared between the chaos task and the devices of `connectionsKilled`.
final class ChaosProgress: Sendable {
    let failures = Atomic<Int>(0)
    let done = Atomic<Bool>(false)
}
