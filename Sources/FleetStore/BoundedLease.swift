import FleetCore
import Logging
import PostgresNIO
import Synchronization

extension PostgresClient {
    /// `withConnection`, but a request that gets no connection within `leaseTimeout` fails at once
    /// with `DatabaseLeaseTimeout` (answered 503 `overloaded`, nothing changed). While PostgreSQL
    /// is unreachable the pool keeps connection requests waiting until its circuit breaker trips,
    /// and the first requests after an outage waited 68 s here before their 503.
    ///
    /// `body` itself is bounded only by `bodyTimeout`, far longer: a statement already sent may
    /// commit, so answering early would say "nothing changed" about a change that then commits.
    /// The bound is for the statement that never returns: postgres-nio 1.33 can leave one waiting
    /// for ever when its connection dies as it is sent (seen in the tests, after
    /// `pg_terminate_backend`). Past `bodyTimeout` the connection is closed and the caller gets
    /// `overloaded`; the stuck work is left behind. Lease, timeout and completion race for one
    /// state, so the caller is answered exactly once. The work runs in a task of its own: a task
    /// group would wait for a stuck child.
    public func withConnection<T: Sendable>(
        leaseTimeout: Duration, bodyTimeout: Duration? = .seconds(30),
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let race = LeaseRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                race.start(continuation)
                race.setTimer(
                    Task {
                        try? await Task.sleep(for: leaseTimeout)
                        guard !Task.isCancelled, !race.expire(), let bodyTimeout else { return }
                        try? await Task.sleep(for: bodyTimeout)
                        if !Task.isCancelled { race.abandon() }
                    })
                race.setWork(
                    Task {
                        do {
                            let value = try await self.withConnection { connection in
                                guard race.claim(connection) else { throw DatabaseLeaseTimeout() }
                                return try await body(connection)
                            }
                            race.finish(.success(value))
                        } catch {
                            race.finish(.failure(error))
                        }
                    })
            }
        } onCancel: {
            race.cancel()
        }
    }
}

/// No database connection became free within the lease timeout.
public struct DatabaseLeaseTimeout: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "no database connection became available in time" }
}

/// Who answers a bounded lease: the timer while the work has no connection, the work once it
/// has one, or the timer again if the work's statement never returns. The continuation is
/// resumed exactly once.
private final class LeaseRace<T: Sendable>: Sendable {
    private enum Phase {
        case waiting
        case leased
        case expired
    }

    private struct State {
        var phase = Phase.waiting
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var connection: PostgresConnection?
        var cancelled = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func setWork(_ work: Task<Void, Never>) {
        let cancelNow = state.withLock { state in
            state.work = work
            return state.cancelled
        }
        if cancelNow { work.cancel() }
    }

    func setTimer(_ timer: Task<Void, Never>) {
        let done = state.withLock { state in
            state.timer = timer
            return state.continuation == nil
        }
        if done { timer.cancel() }
    }

    /// The work got a connection: true if the timer has not answered yet (the work now will).
    func claim(_ connection: PostgresConnection) -> Bool {
        state.withLock { state in
            guard state.phase == .waiting else { return false }
            state.phase = .leased
            state.connection = connection
            return true
        }
    }

    /// The lease timeout passed: answers 503 unless the work already holds a connection. True
    /// when it answered; false when the work holds a connection (the timer then watches the body).
    func expire() -> Bool {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard state.phase == .waiting else { return nil }
            state.phase = .expired
            defer { state.continuation = nil }
            return state.continuation
        }
        guard let continuation else {
            return state.withLock { $0.continuation == nil }
        }
        // The lease request is left to the pool rather than cancelled: it is served (the work then
        // finds the race lost and gives the connection back) or failed by the pool's circuit
        // breaker. With lease requests cancelled while the pool backed off from a refused
        // database, the test suite's provisioning app never finished shutting down (three CI runs
        // in a row, never in isolation).
        continuation.resume(throwing: DatabaseLeaseTimeout())
        return true
    }

    /// The body outlived its bound: close its connection and answer for it.
    func abandon() {
        let (continuation, connection) = state.withLock {
            state -> (CheckedContinuation<T, any Error>?, PostgresConnection?) in
            defer { state.continuation = nil }
            return (state.continuation, state.connection)
        }
        guard let continuation else { return }
        connection?.close().whenComplete { _ in }
        continuation.resume(
            throwing: FleetError(
                .overloaded, "a database statement did not finish in time; its connection was closed", retryAfter: 1))
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, timer) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(with: result)
    }

    func cancel() {
        let work = state.withLock { state in
            state.cancelled = true
            return state.work
        }
        work?.cancel()
    }
}

extension PostgresClient {
    /// `withTransaction` with the lease bounded as in `withConnection(leaseTimeout:_:)`.
    public func withTransaction<T: Sendable>(
        leaseTimeout: Duration, bodyTimeout: Duration? = .seconds(30), logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection(leaseTimeout: leaseTimeout, bodyTimeout: bodyTimeout) { connection in
            try await connection.withTransaction(logger: logger) { try await body($0) }
        }
    }
}
