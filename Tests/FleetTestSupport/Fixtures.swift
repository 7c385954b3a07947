import FleetAuth
import FleetStore
import Foundation
import HummingbirdBcrypt
import Logging

/// Shortcuts for setting up test data directly in a test database.
public enum Fixtures {
    /// Creates an operator with a bcrypt hash of cost 4.
    public static func createOperator(url: String, username: String, password: String, role: OperatorRole) async throws
    {
        let hash = Bcrypt.hash(password, cost: 4)
        _ = try await withDatabase(url: url, logger: TestDatabase.logger) { client in
            try await PostgresOperatorRepository(client: client, logger: TestDatabase.logger)
                .create(username: username, passwordHash: hash, role: role.rawValue)
        }
    }
}
