import Logging
import PostgresNIO
import ServiceLifecycle

/// Deletes idempotency keys older than their 24 h window, every `interval`.
public struct IdempotencyKeyCleaner: Service {
    let client: PostgresClient
    let interval: Duration
    let logger: Logger

    public init(client: PostgresClient, interval: Duration = .seconds(600), logger: Logger) {
        self.client = client
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                try? await clean()
            }
        }
    }

    public func clean() async throws {
        try await client.query(
            "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'", logger: logger)
    }
}
