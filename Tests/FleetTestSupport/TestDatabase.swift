import FleetStore
import Foundation
import Logging
import PostgresNIO

/// A fresh, migrated PostgreSQL database per test, on the server `make test` starts
/// (`FLEETGATE_TEST_DATABASE_URL`). Tests never share a database, so they run in parallel.
/// When the server is unreachable the test fails with a message saying how to start it.
public enum TestDatabase {
    public static var serverURL: String {
        ProcessInfo.processInfo.environment["FLEETGATE_TEST_DATABASE_URL"]
            ?? "postgres://fleetgate@127.0.0.1:54329/fleetgate_test?sslmode=disable"
    }

    public static let logger: Logger = {
        var logger = Logger(label: "fleetgate.test")
        logger.logLevel = .critical
        return logger
    }()

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates `fgt_<random>`, applies the migrations, and returns its URL.
    public static func create() async throws -> String {
        let name = "fgt_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        do {
            try await withDatabase(url: serverURL, logger: logger) { client in
                try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            }
        } catch {
            throw Failure(
                description:
                    "PostgreSQL at FLEETGATE_TEST_DATABASE_URL is unreachable (\(String(describing: error).prefix(120))). "
                    + "Run the suite with `make test`, which starts a local cluster."
            )
        }
        let url = url(for: name)
        try await withDatabase(url: url, logger: logger) { client in
            try await Migrator(client: client, logger: logger).migrate()
        }
        return url
    }

    /// The server URL with another database name.
    public static func url(for database: String) -> String {
        var components = URLComponents(string: serverURL)!
        components.path = "/" + database
        return components.string!
    }

    /// Runs one statement against a database of the test server (`serverURL` for the server itself).
    public static func execute(_ url: String, _ sql: String) async throws {
        try await withDatabase(url: url, logger: logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    /// Makes a test database unreachable, as an outage would: new connections are refused and the
    /// open ones are ended. `false` lets connections in again.
    public static func refuseConnections(_ url: String, _ refused: Bool) async throws {
        let name = URLComponents(string: url)?.path.dropFirst() ?? ""
        precondition(!name.isEmpty, "no database named in \(url)")
        try await execute(serverURL, "ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS \(refused ? "false" : "true")")
        if refused {
            try await execute(
                serverURL, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
        }
    }

    /// Runs SQL against a test database and returns the first column of the first row as Int.
    public static func scalar(_ url: String, _ sql: String) async throws -> Int {
        try await withDatabase(url: url, logger: logger) { client in
            let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
            guard let row = rows.first else { return 0 }
            return try row.decode(Int.self)
        }
    }
}
