import FleetCore
import Logging
import PostgresNIO
import Synchronization

/// Bounds one writer transaction in time. The transaction runs in its own task; when it is not
/// done by the deadline its connection is closed and the caller gets `overloaded` at once.
///
/// Structured concurrency cannot do this: a task group waits for every child, and a statement
/// sent as the backend is killed (`pg_terminate_backend`, a crash) can wait forever in
/// postgres-nio 1.33, even after the connection is closed, so the stuck task is left behind.
final class TransactionDeadline: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Set<PostgresTelemetryWriter.IdempotencyKey>, any Error>?
        var connection: PostgresConnection?
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())

    /// Runs `operation`, or throws `overloaded` after `timeout`.
    static func run(
        _ timeout: Duration, logger: Logger,
        _ operation:
            @escaping @Sendable (TransactionDeadline) async throws -> Set<
                PostgresTelemetryWriter.IdempotencyKey
            >
    ) async throws -> Set<PostgresTelemetryWriter.IdempotencyKey> {
        let deadline = TransactionDeadline()
        return try await withCheckedThrowingContinuation { continuation in
            deadline.state.withLock { $0.continuation = continuation }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if Task.isCancelled { return }
                guard let connection = deadline.finish(.failure(Self.timedOut)) else { return }
                logger.warning("telemetry transaction timed out; its connection is closed")
                connection?.close().whenComplete { _ in }
            }
            deadline.state.withLock { $0.timer = timer }
            Task {
                let result: Result<Set<PostgresTelemetryWriter.IdempotencyKey>, any Error>
                do {
                    result = .success(try await operation(deadline))
                } catch {
                    result = .failure(error)
                }
                _ = deadline.finish(result)
            }
        }
    }

    static let timedOut = FleetError(.overloaded, "database transaction timed out", retryAfter: 1)

    /// Remembers the connection, to close it on timeout.
    func attach(_ connection: PostgresConnection) {
        state.withLock { $0.connection = connection }
    }

    /// Resumes the caller once; returns nil when it was resumed already, else the attached connection.
    private func finish(
        _ result: Result<Set<PostgresTelemetryWriter.IdempotencyKey>, any Error>
    ) -> PostgresConnection?? {
        let (continuation, connection, timer) = state.withLock { state in
            defer {
                state.continuation = nil
                state.timer = nil
            }
            return (state.continuation, state.connection, state.timer)
        }
        guard let continuation else { return nil }
        timer?.cancel()
        continuation.resume(with: result)
        return .some(connection)
    }
}
