import FleetCore
import FleetStore
import FleetTestSupport
import Logging
import PostgresNIO
import Testing
import _ConnectionPoolModule

@Suite("Which database errors are answered 503 overloaded (PostgreSQL away) and which stay 500")
struct DatabaseUnavailableTests {
    let logger = TestDatabase.logger

    func answer(_ error: any Error) -> FleetError.Code? {
        DatabaseUnavailable.fleetError(for: error)?.code
    }

    @Test("no server on the port: overloaded")
    func connectionRefused() async throws {
        var configuration = PostgresConnection.Configuration(
            host: "127.0.0.1", port: 1, username: "fleetgate", password: nil, database: "x", tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            try await connection.close()
            Issue.record("a connection to port 1 succeeded")
        } catch {
            #expect(answer(error) == .overloaded, "\(DatabaseErrorSummary.describe(error))")
        }
    }

    @Test("a statement timeout and a terminated backend: overloaded; a failing statement: not")
    func serverErrors() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: logger) { client in
            try await client.withConnection { connection in
                try await connection.query("SET statement_timeout = 50", logger: logger)
                await #expect(throws: (any Error).self) {
                    do {
                        _ = try await connection.query("SELECT pg_sleep(5)", logger: logger).collect()
                    } catch {
                        #expect(answer(error) == .overloaded, "\(DatabaseErrorSummary.describe(error))")
                        throw error
                    }
                }
                await #expect(throws: (any Error).self) {
                    do {
                        _ = try await connection.query("SELECT 1 / 0", logger: logger).collect()
                    } catch {
                        #expect(answer(error) == nil, "\(DatabaseErrorSummary.describe(error))")
                        throw error
                    }
                }
                await #expect(throws: (any Error).self) {
                    do {
                        _ = try await connection.query("SELECT pg_terminate_backend(pg_backend_pid())", logger: logger)
                            .collect()
                    } catch {
                        #expect(answer(error) == .overloaded, "\(DatabaseErrorSummary.describe(error))")
                        throw error
                    }
                }
            }
        }
    }

    @Test("the pool giving up on connecting (its circuit breaker): overloaded; other errors: not")
    func poolAndOthers() {
        #expect(answer(ConnectionPoolError.connectionCreationCircuitBreakerTripped) == .overloaded)
        #expect(answer(FleetError(.internalError, "x")) == nil)
        #expect(answer(CancellationError()) == nil)
    }
}

extension DatabaseUnavailableTests {
    @Test("a failed transaction is answered for its cause: our own error as it is, a statement timeout as overloaded")
    func transactionCause() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: logger) { client in
            do {
                try await client.withTransaction(logger: logger) { _ in
                    throw FleetError(.conflict, "found in the transaction")
                }
            } catch {
                #expect(!(error is FleetError), "postgres-nio wraps it: \(type(of: error))")
                #expect(DatabaseUnavailable.fleetError(for: error)?.code == .conflict)
            }
            do {
                try await client.withTransaction(logger: logger) { connection in
                    _ = try await connection.query("SET LOCAL statement_timeout = 50", logger: logger).collect()
                    _ = try await connection.query("SELECT pg_sleep(5)", logger: logger).collect()
                }
                Issue.record("pg_sleep(5) outlived a 50 ms statement timeout")
            } catch {
                #expect(answer(error) == .overloaded, "\(type(of: error))")
            }
        }
    }
}
