import CoreMetrics
import DequeModule
import FleetCore
import FleetNIO
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Group commit with natural batching and no timer (ARCHITECTURE.md, "The ingest hot path").
///
/// Each writer connection loops: take everything queued (up to `rowBudget` rows), run one
/// transaction (idempotency keys, one multi-row INSERT, COMMIT), resume every waiting request, repeat. A lone
/// request is committed at once; under load, many requests share one transaction and one fsync.
/// A full queue is refused at once with `overloaded`.
public final class PostgresTelemetryWriter: TelemetryWriting, Service {
    public struct Configuration: Sendable {
        /// Transactions run side by side, each on its own connection.
        public var connections: Int
        /// Most rows in one transaction.
        public var rowBudget: Int
        /// Most rows waiting; beyond it posts are refused with 503.
        public var maxQueuedRows: Int
        /// Longest a transaction may take before its connection is closed and its requests are
        /// answered 503. A backend killed while a statement is on the wire can leave the statement
        /// waiting forever (seen with `pg_terminate_backend` in the writer tests); without this
        /// bound the requests of that transaction would never be answered.
        public var transactionTimeout: Duration
        /// Longest a transaction waits for a connection before its requests are answered 503
        /// ("nothing was stored"). While PostgreSQL is unreachable the pool keeps a connection
        /// request waiting until its circuit breaker trips, and posts waited for
        /// `transactionTimeout` (30 s) instead.
        public var leaseTimeout: Duration

        public init(
            connections: Int = 4, rowBudget: Int = 20_000, maxQueuedRows: Int = 200_000,
            transactionTimeout: Duration = .seconds(30), leaseTimeout: Duration = .seconds(5)
        ) {
            self.connections = connections
            self.rowBudget = rowBudget
            self.maxQueuedRows = maxQueuedRows
            self.transactionTimeout = transactionTimeout
            self.leaseTimeout = leaseTimeout
        }
    }

    private struct Pending: Sendable {
        let batch: TelemetryBatch
        let completion: @Sendable (Result<WriteOutcome, FleetError>) -> Void
    }

    private struct State {
        var queue = Deque<Pending>()
        var queuedRows = 0
        var idleWorkers: [CheckedContinuation<Void, Never>] = []
        var stopping = false
    }

    private let client: PostgresClient
    private let configuration: Configuration
    private let logger: Logger
    private let metrics: WriterMetrics
    private let state = Mutex(State())
    private let watchdog: TransactionWatchdog
    private let eventLoops: any EventLoopGroup

    /// `eventLoops`: the group `client`'s connections run on. Each worker runs on one of its loops,
    /// so when its connection lives there too, sending the statement and resuming on the answer
    /// take no thread hop (`bench/ingest-ab.sh`: one connection, batch 10, p50 0.60 ms against
    /// 1.03 ms on the cooperative pool).
    public init(
        client: PostgresClient, configuration: Configuration, metrics: WriterMetrics, logger: Logger,
        eventLoops: any EventLoopGroup = PostgresClient.defaultEventLoopGroup
    ) {
        self.client = client
        self.eventLoops = eventLoops
        self.configuration = configuration
        // A tenth of the shorter bound, at most a second: a hung transaction or a lease that does not
        // come is answered within 10 % of its bound.
        self.watchdog = TransactionWatchdog(
            interval: min(configuration.transactionTimeout / 10, configuration.leaseTimeout / 10, .seconds(1)))
        self.metrics = metrics
        self.logger = logger
    }

    public var queuedRows: Int { state.withLock { $0.queuedRows } }

    public func write(_ batch: TelemetryBatch) async throws(FleetError) -> WriteOutcome {
        let result = await withCheckedContinuation { continuation in
            submit(batch) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    public func submit(
        _ batch: TelemetryBatch, completion: @escaping @Sendable (Result<WriteOutcome, FleetError>) -> Void
    ) {
        let (accepted, worker) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !state.stopping, state.queuedRows + batch.records.count <= configuration.maxQueuedRows else {
                return (false, nil)
            }
            state.queue.append(Pending(batch: batch, completion: completion))
            state.queuedRows += batch.records.count
            return (true, state.idleWorkers.popLast())
        }
        guard accepted else {
            metrics.rejectedFull.increment()
            completion(.failure(FleetError(.overloaded, "write queue full", retryAfter: 1)))
            return
        }
        metrics.queueDepth.record(queuedRows)
        worker?.resume()
    }

    public func run() async throws {
        // Cancellation too, not only graceful shutdown: when a service fails to start, the group
        // cancels the others, and idle workers waiting for work would otherwise wait for ever
        // (the process neither served nor exited).
        await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.watchdog.run() }
                await withDiscardingTaskGroup { workers in
                    for _ in 0..<max(configuration.connections, 1) {
                        let executor = EventLoopTaskExecutor(eventLoops.next())
                        workers.addTask(executorPreference: executor) { await self.workerLoop(executor: executor) }
                    }
                }
                group.cancelAll()  // the workers have drained the queue: nothing left to watch
            }
        } onCancelOrGracefulShutdown: {
            self.stop()
        }
    }

    /// Stops taking new batches; workers drain what is queued, then return.
    public func stop() {
        let idle = state.withLock { state in
            state.stopping = true
            defer { state.idleWorkers.removeAll() }
            return state.idleWorkers
        }
        idle.forEach { $0.resume() }
    }

    private func workerLoop(executor: any TaskExecutor) async {
        while let take = await nextTake() {
            await commit(take, executor: executor)
        }
    }

    private enum Next {
        case work([Pending])
        case wait
        case stop
    }

    private func nextTake() async -> [Pending]? {
        while true {
            let next = state.withLock { state -> Next in
                if state.queue.isEmpty { return state.stopping ? .stop : .wait }
                var take: [Pending] = []
                var rows = 0
                // Always take at least one batch, even one larger than the budget.
                while let first = state.queue.first,
                    take.isEmpty || rows + first.batch.records.count <= configuration.rowBudget
                {
                    state.queue.removeFirst()
                    rows += first.batch.records.count
                    take.append(first)
                }
                state.queuedRows -= rows
                return .work(take)
            }
            switch next {
            case .work(let take): return take
            case .stop: return nil
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state in
                        if !state.queue.isEmpty || state.stopping { return true }
                        state.idleWorkers.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    private func commit(_ take: [Pending], executor: any TaskExecutor) async {
        let started = ContinuousClock.now
        // Within one transaction the first batch with a (device, key) claims it; later ones are repeats.
        let (seen, repeatsInTake) = Self.keys(of: take)
        do {
            let claimed = try await TransactionDeadline<Set<IdempotencyKey>>.run(
                configuration.transactionTimeout, leaseTimeout: configuration.leaseTimeout, watchdog: watchdog,
                logger: logger, executor: executor
            ) {
                deadline in
                try await self.client.withConnection { connection in
                    try deadline.attach(connection)
                    do {
                        return try await self.transaction(
                            take, repeatsInTake: repeatsInTake, keys: seen, on: connection)
                    } catch {
                        // postgres-nio remembers a prepared statement that failed to prepare and
                        // fails it again on every later use on that connection (a Parse refused
                        // once, say while a migration held a lock, would turn the connection into
                        // a 503 machine). A closed connection is replaced by the pool.
                        connection.close().whenComplete { _ in }
                        throw error
                    }
                }
            }
            var rows = 0
            for (index, pending) in take.enumerated() {
                if let key = pending.batch.idempotencyKey {
                    let fresh =
                        !repeatsInTake.contains(index)
                        && claimed.contains(IdempotencyKey(device: pending.batch.deviceID, key: key))
                    if fresh {
                        rows += pending.batch.records.count
                        pending.completion(.success(.stored(pending.batch.records.count)))
                    } else {
                        metrics.duplicates.increment()
                        pending.completion(.success(.duplicate))
                    }
                } else {
                    rows += pending.batch.records.count
                    pending.completion(.success(.stored(pending.batch.records.count)))
                }
            }
            metrics.recordCommit(requests: take.count, rows: rows, duration: ContinuousClock.now - started)
        } catch {
            metrics.commitFailures.increment()
            logger.warning(
                "telemetry transaction failed",
                metadata: ["error": "\(DatabaseErrorSummary.describe(error))", "requests": "\(take.count)"])
            for pending in take {
                pending.completion(
                    .failure(FleetError(.overloaded, "database unavailable; nothing was stored", retryAfter: 1)))
            }
        }
        metrics.queueDepth.record(queuedRows)
    }

    /// The distinct (device, key) pairs of a take, and the indexes of batches repeating an earlier one.
    private static func keys(of take: [Pending]) -> (Set<IdempotencyKey>, Set<Int>) {
        var seen = Set<IdempotencyKey>()
        var repeatsInTake = Set<Int>()
        for (index, pending) in take.enumerated() {
            guard let key = pending.batch.idempotencyKey else { continue }
            if !seen.insert(IdempotencyKey(device: pending.batch.deviceID, key: key)).inserted {
                repeatsInTake.insert(index)
            }
        }
        return (seen, repeatsInTake)
    }

    struct IdempotencyKey: Hashable, Sendable {
        let device: String
        let key: String
    }

    /// One transaction as one statement: claim the keys and insert the rows of batches that are
    /// new, atomically (a single statement commits or rolls back whole, with no BEGIN/COMMIT round
    /// trips). Rows carry their batch's key ('' for none); a keyed row goes in only when this
    /// statement claimed its key. Returns the keys this transaction claimed.
    private func transaction(
        _ take: [Pending], repeatsInTake: Set<Int>, keys: Set<IdempotencyKey>, on connection: PostgresConnection
    ) async throws -> Set<IdempotencyKey> {
        var rows = TelemetryRows(capacity: take.reduce(0) { $0 + $1.batch.records.count })
        for (index, pending) in take.enumerated() where !repeatsInTake.contains(index) {
            for record in pending.batch.records {
                rows.append(device: pending.batch.deviceID, key: pending.batch.idempotencyKey, record: record)
            }
        }
        var claimed = Set<IdempotencyKey>()
        guard rows.count > 0 || !keys.isEmpty else { return claimed }
        // Keys in one order in every transaction: two takes that share keys (a retry while its first
        // post is still in flight) would otherwise lock them in opposite orders and deadlock.
        let ordered = keys.sorted { ($0.device, $0.key) < ($1.device, $1.key) }
        let result = try await connection.execute(rows.insert(claiming: ordered), logger: logger)
        for try await (device, key) in result {
            claimed.insert(IdempotencyKey(device: device, key: key))
        }
        return claimed
    }
}
