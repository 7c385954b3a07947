import FleetCore
import Logging
import PostgresNIO

/// An operator account as stored.
public struct OperatorRecord: Sendable, Equatable {
    public let username: String
    public let passwordHash: String
    public let role: String
}

/// Operator accounts.
public protocol OperatorRepository: Sendable {
    /// The operator with this username, if any.
    func find(username: String) async throws -> OperatorRecord?
    /// Creates an operator; false when the username is taken.
    func create(username: String, passwordHash: String, role: String) async throws -> Bool
}

public struct PostgresOperatorRepository: OperatorRepository {
    let client: PostgresClient
    let logger: Logger
    /// Longest a call waits for a database connection before it is answered 503.
    let leaseTimeout: Duration

    public init(client: PostgresClient, logger: Logger, leaseTimeout: Duration = .seconds(5)) {
        self.client = client
        self.logger = logger
        self.leaseTimeout = leaseTimeout
    }

    public func find(username: String) async throws -> OperatorRecord? {
        try await client.withConnection(leaseTimeout: leaseTimeout) { connection in
            let rows = try await connection.query(
                "SELECT username, password_hash, role FROM operators WHERE username = \(username)", logger: logger
            )
            for try await (username, hash, role) in rows.decode((String, String, String).self) {
                return OperatorRecord(username: username, passwordHash: hash, role: role)
            }
            return nil
        }
    }

    public func create(username: String, passwordHash: String, role: String) async throws -> Bool {
        try await client.withConnection(leaseTimeout: leaseTimeout) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO operators (username, password_hash, role) VALUES (\(username), \(passwordHash), \(role))
                ON CONFLICT (username) DO NOTHING RETURNING username
                """,
                logger: logger
            ).collect()
            return !rows.isEmpty
        }
    }
}
