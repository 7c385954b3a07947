import Synchronization

/// Runs `operation` in a task of its own and returns its result, or nil once `limit` has passed;
/// the operation is then cancelled and left to end by itself. For probes that must answer even
/// when the call they make never returns: while PostgreSQL is unreachable, postgres-nio keeps a
/// connection request waiting until its circuit breaker trips (15 to 60 s), and a structured
/// timeout (a task group) would wait for that child too.
public func firstWithin<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
    await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
        let pending = Mutex<CheckedContinuation<T?, Never>?>(continuation)
        let answer: @Sendable (T?) -> Void = { value in pending.withLock { $0.take() }?.resume(returning: value) }
        let work = Task { answer(await operation()) }
        Task {
            try? await Task.sleep(for: limit)
            work.cancel()
            answer(nil)
        }
    }
}
