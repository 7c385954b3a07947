import FleetCore
import FleetStore
import FleetTestSupport
import PostgresNIO
import Synchronization
import Testing

@Suite("A bounded lease: waiting for a connection gives up, running on one does not")
struct BoundedLeaseTests {
    let logger = TestDatabase.logger

    @Test("no free connection within the timeout: DatabaseLeaseTimeout (503), and the body never runs")
    func leaseTimesOut() async throws {
        let url = try await TestDatabase.create()
        let client = PostgresClient(
            configuration: try DatabaseURL.configuration(url, maxConnections: 1), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let ran = Atomic<Int>(0)
            try await client.withConnection { _ in
                // The pool's only connection is held here, so the bounded call waits, then gives up.
                let started = ContinuousClock.now
                await #expect(throws: DatabaseLeaseTimeout.self) {
                    try await client.withConnection(leaseTimeout: .milliseconds(200)) { connection in
                        ran.add(1, ordering: .relaxed)
                        return try await connection.query("SELECT 1", logger: logger).collect().count
                    }
                }
                #expect(ContinuousClock.now - started < .seconds(10))
                #expect(DatabaseUnavailable.fleetError(for: DatabaseLeaseTimeout())?.code == .overloaded)
            }
            // The connection is free again; the timed-out request, served now, must not run its body on it.
            let rows = try await client.withConnection(leaseTimeout: .seconds(5)) { connection in
                try await connection.query("SELECT 1", logger: logger).collect().count
            }
            #expect(rows == 1)
            try await Task.sleep(for: .milliseconds(200))
            #expect(ran.load(ordering: .relaxed) == 0)
        }
    }

    @Test("a body that holds its connection longer than the timeout runs to its end")
    func bodyIsNotBounded() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: logger) { client in
            // Opened first, so that the short timeout below covers only the lease of an idle
            // connection, not opening one on a machine busy with the rest of the suite.
            try await client.withConnection { _ in }
            let value = try await client.withTransaction(leaseTimeout: .milliseconds(500), logger: logger) {
                connection in
                try await connection.query("SELECT pg_sleep(1.5)", logger: logger)
                try await connection.query("CREATE TABLE lease_probe (x int)", logger: logger)
                return 7
            }
            #expect(value == 7)
        }
        #expect(try await TestDatabase.scalar(url, "SELECT count(*)::int8 FROM lease_probe") == 0)
    }

    @Test("a body that never returns is answered overloaded after bodyTimeout, its connection closed")
    func stuckBody() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: logger) { client in
            let started = ContinuousClock.now
            do {
                _ = try await client.withConnection(leaseTimeout: .seconds(5), bodyTimeout: .milliseconds(500)) {
                    connection in
                    // Stands for a statement postgres-nio never answers.
                    try? await Task.sleep(for: .seconds(3600))
                    return 0
                }
                Issue.record("a stuck body was waited for")
            } catch let error as FleetError {
                #expect(error.code == .overloaded)
            }
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }
}
