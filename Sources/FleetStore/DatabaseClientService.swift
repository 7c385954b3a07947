import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Runs the PostgreSQL client as a service whose shutdown is bounded: once the group shuts down
/// (or cancels it), the client's pool gets `closeTimeout` to close, and then the service returns
/// whether or not it has, with a warning.
///
/// postgres-nio 1.33's pool ends its `run()` only when every connection, connection attempt and
/// timer of it has ended, and a statement that was on the wire as its connection died can wait
/// for ever (TransactionDeadline). That can hold a SIGTERM'd process open with nothing left to
/// do. (Full test runs here hung three times with every thread idle; that cause was found
/// elsewhere, an application failing during start-up under HummingbirdTesting, see
/// StartWatch, but it showed how an unbounded shutdown looks from outside.) This is the
/// defensive bound: what the pool still holds then is only what the process's exit ends anyway.
public struct DatabaseClientService: Service, CustomStringConvertible {
    let runLoop: @Sendable () async -> Void
    let closeTimeout: Duration
    let logger: Logger

    public init(_ client: PostgresClient, closeTimeout: Duration = .seconds(10), logger: Logger) {
        self.init(closeTimeout: closeTimeout, logger: logger) { await client.run() }
    }

    /// `run` is the client's run loop (any run loop, for tests); it is ended by cancellation.
    init(closeTimeout: Duration, logger: Logger, run: @escaping @Sendable () async -> Void) {
        self.runLoop = run
        self.closeTimeout = closeTimeout
        self.logger = logger
    }

    public var description: String { "PostgresClient" }

    public func run() async throws {
        let ended = Ending()
        // Unstructured, so that a run loop that never ends cannot hold this service's task.
        let loop = Task {
            await runLoop()
            ended.signal()
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            await ended.wait()
        } onCancelOrGracefulShutdown: {
            loop.cancel()
            Task { [closeTimeout, logger] in
                try? await Task.sleep(for: closeTimeout)
                if ended.signal() {
                    logger.warning(
                        "the database client did not close within its bound; shutting down without it",
                        metadata: ["seconds": "\(closeTimeout.components.seconds)"])
                }
            }
        }
    }
}

/// A one-shot signal that one waiter can await: `signal()` after `wait()` resumes it, before it
/// makes `wait()` return at once. Returns true for the call that signalled first.
private final class Ending: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Void, Never>?)
        case signalled
    }

    private let state = Mutex(State.waiting(nil))

    @discardableResult
    func signal() -> Bool {
        let (first, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard case .waiting(let continuation) = state else { return (false, nil) }
            state = .signalled
            return (true, continuation)
        }
        waiter?.resume()
        return first
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard case .waiting = state else { return true }
                state = .waiting(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
