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
    /// Only the wait for a connection is bounded, never `body`: once `body` holds a connection it
    /// runs to its end (a statement already sent may commit, so answering before it ends could say
    /// "nothing changed" about a change that then commits). Lease and timeout race for one flag, so
    /// exactly one of them wins. The work runs in a task of its own: a cancelled lease request in a
    /// task group would keep the group waiting for it.
    public func withConnection<T: Sendable>(
        leaseTimeout: Duration, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let race = LeaseRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                race.start(continuation)
                let timer = Task {
                    try? await Task.sleep(for: leaseTimeout)
                    if !Task.isCancelled { race.expire() }
                }
                race.setWork(
                    Task {
                        do {
                            let value = try await self.withConnection { connection in
                                guard race.claim() else { throw DatabaseLeaseTimeout() }
                                timer.cancel()
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

/// Who answers a bounded lease: the work (once it holds a connection) or the timer (while it
/// does not). The continuation is resumed exactly once.
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

    /// The work got a connection: true if the timer has not answered yet (the work now will).
    func claim() -> Bool {
        state.withLock { state in
            guard state.phase == .waiting else { return false }
            state.phase = .leased
            return true
        }
    }

    /// The timeout passed: answers 503 unless the work already holds a connection.
    func expire() {
        let (continuation, work) = state.withLock { state -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?) in
            guard state.phase == .waiting else { return (nil, nil) }
            state.phase = .expired
            defer { state.continuation = nil }
            return (state.continuation, state.work)
        }
        work?.cancel()  // withdraws the lease request
        continuation?.resume(throwing: DatabaseLeaseTimeout())
    }

    func finish(_ result: Result<T, any Error>) {
        let continuation = state.withLock { state in
            defer { state.continuation = nil }
            return state.continuation
        }
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
        leaseTimeout: Duration, logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection(leaseTimeout: leaseTimeout) { connection in
            try await connection.withTransaction(logger: logger) { try await body($0) }
        }
    }
}
