import FleetAuth
import FleetCore
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// Keeps a `RevocationView` current: a full read at start, every change through LISTEN/NOTIFY on
/// `fleetgate_revocations`, a full re-read after every reconnect and every `reloadInterval` as a
/// backstop for a missed notification.
public struct RevocationFeed: Service {
    public static let channel = "fleetgate_revocations"

    let client: PostgresClient
    let view: RevocationView
    let reloadInterval: Duration
    let logger: Logger
    let onApplied: @Sendable () -> Void
    /// Runs between a reload's read and the view's replace, so a test can land a notification there.
    let afterReloadRead: @Sendable () async -> Void

    public init(
        client: PostgresClient, view: RevocationView, reloadInterval: Duration = .seconds(5), logger: Logger,
        onApplied: @escaping @Sendable () -> Void = {}
    ) {
        self.init(client: client, view: view, reloadInterval: reloadInterval, logger: logger, onApplied: onApplied) {}
    }

    init(
        client: PostgresClient, view: RevocationView, reloadInterval: Duration, logger: Logger,
        onApplied: @escaping @Sendable () -> Void, afterReloadRead: @escaping @Sendable () async -> Void
    ) {
        self.client = client
        self.view = view
        self.reloadInterval = reloadInterval
        self.logger = logger
        self.onApplied = onApplied
        self.afterReloadRead = afterReloadRead
    }

    public func run() async throws {
        // Both loops end when the service is cancelled (ServiceGroup cancels after graceful shutdown).
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.listenLoop() }
                group.addTask { await self.reloadLoop() }
            }
        }
    }

    private func reloadLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: reloadInterval)
            if Task.isCancelled { return }
            try? await reload()
        }
    }

    private func listenLoop() async {
        // While PostgreSQL is away this retries every second; the log gets the first failure of a
        // streak, then one line a minute, and one when listening again.
        var failures = 0
        var lastLogged: ContinuousClock.Instant?
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    // A notification sequence does not end on task cancellation; closing the
                    // connection does, so shutdown is never held up by an idle LISTEN.
                    try await withTaskCancellationHandler {
                        try await connection.listen(on: Self.channel) { notifications in
                            // Re-read after (re)connecting: changes made while away sent no notification we saw.
                            try await reload()
                            if failures > 0 {
                                logger.info("revocation feed listening again", metadata: ["failures": "\(failures)"])
                                failures = 0
                                lastLogged = nil
                            }
                            for try await notification in notifications {
                                apply(payload: notification.payload)
                            }
                        }
                    } onCancel: {
                        let future: EventLoopFuture<Void> = connection.close()
                        future.whenComplete { _ in }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let now = ContinuousClock.now
                if lastLogged.map({ now - $0 >= .seconds(60) }) ?? true {
                    lastLogged = now
                    logger.warning(
                        "revocation feed lost its connection; retrying every second",
                        metadata: ["error": "\(DatabaseErrorSummary.describe(error))", "failures": "\(failures)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Reads the whole revocation state. Notifications applied while it reads survive it (the
    /// view re-applies them), so a device revoked during a reload stays revoked.
    public func reload() async throws {
        try await view.reload {
            var entries: [String: RevocationView.Entry] = [:]
            let rows = try await client.query(
                """
                SELECT id, status = 'revoked', revoked_before FROM devices WHERE status = 'revoked' OR revoked_before > 0
                UNION ALL
                SELECT id, true, 0 FROM device_tombstones WHERE deleted_at > now() - interval '25 hours'
                """,
                logger: logger
            )
            for try await (id, disabled, cutoff) in rows.decode((String, Bool, Int64).self) {
                entries[id] = RevocationView.Entry(disabled: disabled, cutoff: cutoff)
            }
            await afterReloadRead()
            return entries
        }
    }

    /// Payload: `<disabled 0|1> <cutoff> <device id>` (device ids have no spaces).
    func apply(payload: String) {
        let parts = payload.split(separator: " ", maxSplits: 2)
        guard parts.count == 3, let cutoff = Int64(parts[1]) else {
            logger.warning("malformed revocation notification ignored")
            return
        }
        let device = String(parts[2])
        let disabled = parts[0] == "1"
        view.apply(
            device: device,
            entry: disabled || cutoff > 0 ? RevocationView.Entry(disabled: disabled, cutoff: cutoff) : nil)
        onApplied()
    }

    public static func payload(device: String, disabled: Bool, cutoff: Int64) -> String {
        "\(disabled ? 1 : 0) \(cutoff) \(device)"
    }
}
