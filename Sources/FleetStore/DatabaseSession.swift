import Logging
import PostgresNIO

/// Runs `body` with a live PostgresClient, for one-shot commands (migrate, create-operator, ...).
@discardableResult
public func withDatabase<T: Sendable>(
    url: String, logger: Logger, _ body: @Sendable (PostgresClient) async throws -> T
) async throws -> T {
    let client = PostgresClient(
        configuration: try DatabaseURL.configuration(url, maxConnections: 4), backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}
