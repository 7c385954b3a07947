import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Collects which devices posted and writes `last_seen_at` for all of them in one UPDATE every
/// `interval`, so no request pays for a write (and writer transactions never contend on device rows).
public final class LastSeenRecorder: Service {
    private let client: PostgresClient
    private let interval: Duration
    private let logger: Logger
    private let seen = Mutex(Set<String>())

    public init(client: PostgresClient, interval: Duration = .seconds(5), logger: Logger) {
        self.client = client
        self.interval = interval
        self.logger = logger
    }

    public func record(_ device: String) {
        _ = seen.withLock { $0.insert(device) }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                if Task.isCancelled { return }
                await self.flush()
            }
        }
        await flush()
    }

    public func flush() async {
        let devices = seen.withLock { seen in
            defer { seen.removeAll(keepingCapacity: true) }
            return Array(seen)
        }
        guard !devices.isEmpty else { return }
        do {
            try await client.query("UPDATE devices SET last_seen_at = now() WHERE id = ANY(\(devices))", logger: logger)
        } catch {
            logger.debug("last-seen update skipped", metadata: ["devices": "\(devices.count)"])
        }
    }
}
