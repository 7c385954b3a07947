import DequeModule
import Synchronization

/// Runs the requests of many callers as one batch when they arrive together, with natural batching
/// and no timer (the idea of the ingest writer's group commit): while `lanes` batches are running,
/// new requests queue; a finishing lane takes everything queued (up to `maxBatch`). A lone request
/// runs at once; under load, one round trip serves many requests.
final class NaturalBatcher<Item: Sendable, Answer: Sendable>: Sendable {
    /// Runs one batch; the second argument is the lane's executor, for tasks `run` starts.
    typealias Run = @Sendable ([Item], (any TaskExecutor)?) async throws -> [Answer]

    typealias Completion = @Sendable (Result<Answer, any Error>) -> Void

    private struct Waiting: Sendable {
        let item: Item
        let completion: Completion
    }

    private struct State {
        var queue = Deque<Waiting>()
        var running = 0
    }

    private let lanes: Int
    private let maxBatch: Int
    private let laneExecutor: (@Sendable () -> any TaskExecutor)?
    private let run: Run
    private let state = Mutex(State())

    /// `run` answers its items in order, one answer each; if it throws, every item of that batch
    /// gets the error. A lane's task prefers the executor `laneExecutor` makes as it opens (none:
    /// the global pool).
    init(
        lanes: Int, maxBatch: Int, laneExecutor: (@Sendable () -> any TaskExecutor)? = nil, run: @escaping Run
    ) {
        self.lanes = max(lanes, 1)
        self.maxBatch = max(maxBatch, 1)
        self.laneExecutor = laneExecutor
        self.run = run
    }

    func submit(_ item: Item) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            submit(item) { continuation.resume(with: $0) }
        }
    }

    /// For a caller that does not suspend (an event-loop handler): `completion` runs once, on the
    /// lane's thread, when the item's batch has run.
    func submit(_ item: Item, completion: @escaping Completion) {
        let opensLane = state.withLock { state in
            state.queue.append(Waiting(item: item, completion: completion))
            guard state.running < lanes else { return false }
            state.running += 1
            return true
        }
        guard opensLane else { return }
        let executor = laneExecutor?()
        Task(executorPreference: executor) { await self.drain(executor: executor) }
    }

    /// One lane: batches until the queue is empty.
    private func drain(executor: (any TaskExecutor)?) async {
        while true {
            let take = state.withLock { state -> [Waiting] in
                let count = min(state.queue.count, maxBatch)
                if count == 0 { state.running -= 1 }
                var take: [Waiting] = []
                take.reserveCapacity(count)
                for _ in 0..<count { take.append(state.queue.removeFirst()) }
                return take
            }
            guard !take.isEmpty else { return }
            do {
                let answers = try await run(take.map(\.item), executor)
                precondition(answers.count == take.count, "a batch must answer every item")
                for (waiting, answer) in zip(take, answers) { waiting.completion(.success(answer)) }
            } catch {
                for waiting in take { waiting.completion(.failure(error)) }
            }
        }
    }
}
