import FleetCore
import Foundation
import Logging
import PostgresNIO

/// Applies the versioned SQL files in `Migrations/` in order, each in its own transaction, under a
/// PostgreSQL advisory lock so several services starting together apply each file once.
public struct Migrator: Sendable {
    /// An arbitrary constant shared by every Fleetgate process ("FLEETGAT" in ASCII).
    static let advisoryLockID: Int64 = 0x464C_4545_5447_4154

    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The migrations bundled with FleetStore, ordered by version.
    public static func bundled() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw FleetError(.internalError, "the Migrations resource is missing from the build")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        return try files.compactMap { file -> Migration? in
            guard let version = Int(file.prefix(while: \.isNumber)) else { return nil }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            return Migration(version: version, name: String(file.dropLast(4)), sql: sql)
        }.sorted { $0.version < $1.version }
    }

    /// Splits a migration into statements. postgres-nio speaks only the extended protocol, which runs
    /// one statement at a time, so migration files end each statement with `;` at the end of a line.
    /// A function body is dollar-quoted (`$$`): lines inside an open `$$` never end a statement.
    static func statements(in sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var insideDollarQuote = false
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !insideDollarQuote && (trimmed.hasPrefix("--") || trimmed.isEmpty) { continue }
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { insideDollarQuote.toggle() }
            if !insideDollarQuote && trimmed.hasSuffix(";") {
                statements.append(current)
                current = ""
            }
        }
        if !current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { statements.append(current) }
        return statements
    }

    /// Applies every bundled migration not yet recorded; returns the versions applied now.
    @discardableResult
    public func migrate() async throws -> [Int] {
        let migrations = try Self.bundled()
        return try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockID))", logger: logger)
            do {
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                    """,
                    logger: logger
                )
                var applied = Set<Int>()
                for try await version in try await connection.query(
                    "SELECT version FROM schema_migrations", logger: logger
                ).decode(Int.self) {
                    applied.insert(version)
                }
                var done: [Int] = []
                for migration in migrations where !applied.contains(migration.version) {
                    try await connection.query("BEGIN", logger: logger)
                    do {
                        for statement in Self.statements(in: migration.sql) {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query(
                            "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                            logger: logger
                        )
                        try await connection.query("COMMIT", logger: logger)
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: logger)
                        throw error
                    }
                    logger.info(
                        "migration applied", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                    done.append(migration.version)
                }
                try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockID))", logger: logger)
                return done
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockID))", logger: logger)
                throw error
            }
        }
    }
}
