import FleetStore
import FleetTestSupport
import PostgresNIO
import Testing

@Suite("The pool keeps its minimum of connections open")
struct PoolMinimumTests {
    let logger = TestDatabase.logger

    /// This database's client connections other than the counting one.
    func open(_ url: String) async throws -> Int {
        try await TestDatabase.scalar(
            url,
            """
            SELECT count(*)::int8 FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            """)
    }

    @Test("minConnections are opened before any lease and stay open across leases; nothing more opens")
    func minimumStaysOpen() async throws {
        let url = try await TestDatabase.create()
        let client = PostgresClient(
            configuration: try DatabaseURL.configuration(url, maxConnections: 6, minConnections: 3),
            backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            var waited = 0
            while try await open(url) < 3, waited < 200 {
                try await Task.sleep(for: .milliseconds(50))
                waited += 1
            }
            #expect(try await open(url) == 3)
            for _ in 0..<50 {
                _ = try await client.withConnection { connection in
                    try await connection.query("SELECT 1", logger: logger).collect().count
                }
            }
            #expect(try await open(url) == 3)
        }
    }
}
