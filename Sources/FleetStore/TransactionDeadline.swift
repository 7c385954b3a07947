import FleetCore
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Bounds one transaction in time. The transaction runs in its own task; when it is not done by
/// the deadline its connection is closed and the caller gets `overloaded` at once.
///
/// Structured concurrency cannot do this: a task group waits for every child, and a statement
/// sent as the backend is killed (`pg_terminate_backend`, a crash) can wait forever in
/// postgres-nio 1.33, even after the connection is closed, so the stuck task is left behind.
///
/// Deadlines are enforced by a `TransactionWatchdog` that sweeps them all, not by a timer task
/// per transaction: starting and cancelling that task cost two extra thread hops per commit.
/// Generic over the result, so any statement that must not hang can be bounded the same way.
final class TransactionDeadline<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var connection: PostgresConnection?
    }

    private let state = Mutex(State())

    /// Runs `operation`, or throws `overloaded` once `timeout` has passed, or once `leaseTimeout`
    /// has passed with no connection attached (detected by the watchdog's sweep, so up to one
    /// sweep interval late). The lease request itself is left to the pool: when it is served
    /// late, `attach` refuses the connection and the operation gives it back unused.
    static func run(
        _ timeout: Duration, leaseTimeout: Duration? = nil, watchdog: TransactionWatchdog, logger: Logger,
        executor: (any TaskExecutor)? = nil,
        _ operation: @escaping @Sendable (TransactionDeadline) async throws -> Value
    ) async throws -> Value {
        let deadline = TransactionDeadline()
        let started = ContinuousClock.now
        let watch = watchdog.watch(until: started + timeout) {
            guard let connection = deadline.finish(.failure(timedOut)) else { return }
            logger.warning("database transaction timed out; its connection is closed")
            connection?.close().whenComplete { _ in }
        }
        let leaseWatch = leaseTimeout.map { leaseTimeout in
            watchdog.watch(until: started + leaseTimeout) { deadline.expireLease() }
        }
        defer {
            watchdog.forget(watch)
            if let leaseWatch { watchdog.forget(leaseWatch) }
        }
        return try await withCheckedThrowingContinuation { continuation in
            deadline.state.withLock { $0.continuation = continuation }
            // An unstructured task does not inherit the caller's executor preference: pass it on.
            Task(executorPreference: executor) {
                let result: Result<Value, any Error>
                do {
                    result = .success(try await operation(deadline))
                } catch {
                    result = .failure(error)
                }
                _ = deadline.finish(result)
            }
        }
    }

    /// Remembers the connection, to close it on timeout. Throws when the deadline has already
    /// passed: the caller has been answered 503 ("nothing was stored"), so the transaction must not
    /// start late, say on a connection the pool handed out only once PostgreSQL came back.
    func attach(_ connection: PostgresConnection) throws {
        let late = state.withLock { state -> Bool in
            guard state.continuation != nil else { return true }
            state.connection = connection
            return false
        }
        if late { throw timedOut }
    }

    /// The lease bound passed: answers `DatabaseLeaseTimeout` unless a connection is attached.
    private func expireLease() {
        let continuation = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            guard state.connection == nil else { return nil }
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(throwing: DatabaseLeaseTimeout())
    }

    /// Resumes the caller once; returns nil when it was resumed already, else the attached connection.
    private func finish(_ result: Result<Value, any Error>) -> PostgresConnection?? {
        let (continuation, connection) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.connection)
        }
        guard let continuation else { return nil }
        continuation.resume(with: result)
        return .some(connection)
    }
}

private let timedOut = FleetError(.overloaded, "database transaction timed out", retryAfter: 1)

/// One sweep for every deadline of a writer (or any set of transactions): `run()` wakes every
/// `interval` and expires what is past due. Registering and forgetting a deadline is a lock and a
/// dictionary write, with no task or timer of its own.
public final class TransactionWatchdog: Sendable {
    struct Watch: Sendable {
        let id: Int
    }

    private struct Entry {
        let due: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private struct State {
        var nextID = 0
        var entries: [Int: Entry] = [:]
    }

    private let state = Mutex(State())
    let interval: Duration

    /// `interval` bounds how late a deadline is noticed (at least 10 ms: a zero interval would spin).
    public init(interval: Duration) {
        self.interval = max(interval, .milliseconds(10))
    }

    func watch(until due: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> Watch {
        state.withLock { state in
            state.nextID &+= 1
            state.entries[state.nextID] = Entry(due: due, expire: expire)
            return Watch(id: state.nextID)
        }
    }

    func forget(_ watch: Watch) {
        state.withLock { _ = $0.entries.removeValue(forKey: watch.id) }
    }

    var watching: Int { state.withLock { $0.entries.count } }

    /// Expires every deadline that is due; returns how many.
    @discardableResult
    func sweep(now: ContinuousClock.Instant = .now) -> Int {
        let due = state.withLock { state -> [Entry] in
            let due = state.entries.filter { $0.value.due <= now }
            for id in due.keys { state.entries[id] = nil }
            return Array(due.values)
        }
        due.forEach { $0.expire() }
        return due.count
    }

    /// Sweeps until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            sweep()
        }
    }
}

/// The watchdog as a service of an application's group, for statements outside the ingest writer
/// (which runs its own): it sweeps until graceful shutdown, listed before the HTTP server so the
/// server's in-flight requests finish first.
public struct TransactionWatchdogService: Service {
    let watchdog: TransactionWatchdog

    public init(_ watchdog: TransactionWatchdog) {
        self.watchdog = watchdog
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await watchdog.run() }
    }
}
