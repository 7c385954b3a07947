import Synchronization

/// Stops the test run, with the reason, when an application under test has not started serving
/// within `limit`. HummingbirdTesting's `.live` waits for the server's port for ever when the
/// application fails before it serves: the start-up error is thrown in a task nobody awaits
/// until then. The test run then hung with every thread idle and no socket open, and CI ran out
/// of time instead of naming the test.
public final class StartWatch: Sendable {
    private let isServing = Atomic<Bool>(false)

    public init(_ application: String, within limit: Duration = .seconds(180)) {
        Task { [self] in
            try? await Task.sleep(for: limit)
            guard !self.isServing.load(ordering: .relaxed) else { return }
            fatalError("\(application) under test did not start serving within \(limit): its start-up failed")
        }
    }

    /// The application serves: the watch is over.
    public func serving() {
        isServing.store(true, ordering: .relaxed)
    }
}
