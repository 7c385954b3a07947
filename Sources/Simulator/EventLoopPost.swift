import NIOCore

/// One batch sent through a `TelemetryConnectionPool` by callbacks on the pool's event loop:
/// the same attempts, backoff, Retry-After and recording as `PostSender.send`, without a Swift
/// task per post. A task per post cost ~7 % of the simulator's CPU at 25 000 posts a second
/// (its creation, and a job on the loop's queue for its start and for each resumption).
final class EventLoopPost {
    private let post: PendingPost
    private let firstAuthorization: String
    private let sender: PostSender
    private let pool: TelemetryConnectionPool
    private let tracker: EventLoopPostTracker
    private var progress: PostProgress
    private var sentAt: ContinuousClock.Instant
    private var retry: Scheduled<Void>?

    private init(
        post: PendingPost, firstAuthorization: String, sender: PostSender, pool: TelemetryConnectionPool,
        tracker: EventLoopPostTracker
    ) {
        self.post = post
        self.firstAuthorization = firstAuthorization
        self.sender = sender
        self.pool = pool
        self.tracker = tracker
        self.progress = PostProgress(seed: sender.seed, index: post.index)
        self.sentAt = .now
    }

    /// Sends `post` until it ends; must be called on the pool's event loop.
    static func start(
        _ post: PendingPost, firstAuthorization: String, sender: PostSender, pool: TelemetryConnectionPool,
        tracker: EventLoopPostTracker
    ) {
        tracker.outstanding += 1
        EventLoopPost(
            post: post, firstAuthorization: firstAuthorization, sender: sender, pool: pool, tracker: tracker
        ).attempt()
    }

    private func attempt() {
        let authorization = sender.authorization(for: post, progress: progress, first: firstAuthorization)
        sentAt = .now
        pool.submitOnLoop(
            TelemetryRequest(body: post.body, authorization: authorization, idempotencyKey: post.idempotencyKey)
        ) { outcome in
            self.answered(outcome)
        }
    }

    private func answered(_ outcome: AttemptOutcome) {
        guard let delay = sender.afterAttempt(outcome, post: post, progress: &progress, sentAt: sentAt) else {
            tracker.ended()
            return
        }
        // A cancelled run gives up instead of waiting, as a cancelled `Task.sleep` does.
        guard !tracker.isCancelled else { return giveUp() }
        retry = pool.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) {
            self.tracker.waitingRetries[ObjectIdentifier(self)] = nil
            self.retry = nil
            self.attempt()
        }
        tracker.waitingRetries[ObjectIdentifier(self)] = self
    }

    /// Ends a post waiting for its retry (the run was cancelled).
    fileprivate func cancelRetry() {
        guard let retry else { return }
        self.retry = nil
        retry.cancel()
        giveUp()
    }

    private func giveUp() {
        sender.giveUp(post, progress: progress, sentAt: sentAt)
        tracker.ended()
    }
}

/// The posts an `EventLoopPost` generator has outstanding; lives on the pool's event loop.
final class EventLoopPostTracker {
    fileprivate(set) var outstanding = 0
    fileprivate var waitingRetries: [ObjectIdentifier: EventLoopPost] = [:]
    fileprivate private(set) var isCancelled = false
    private var drained: CheckedContinuation<Void, Never>?
    let eventLoop: any EventLoop
    private let inFlight: InFlightCounter

    init(eventLoop: any EventLoop, inFlight: InFlightCounter) {
        self.eventLoop = eventLoop
        self.inFlight = inFlight
    }

    fileprivate func ended() {
        inFlight.decrement()
        outstanding -= 1
        if outstanding == 0, let drained {
            self.drained = nil
            drained.resume()
        }
    }

    /// Gives up every post waiting for a retry, and makes the others give up rather than wait.
    func cancel() {
        isCancelled = true
        let waiting = waitingRetries.values
        waitingRetries = [:]
        for post in waiting { post.cancelRetry() }
    }

    /// Returns when every post started has ended; cancelling the calling task gives up the
    /// retries still waiting (posts on the wire end with their answer or timeout).
    static func waitForAll(_ tracker: NIOLoopBoundBox<EventLoopPostTracker>) async {
        let eventLoop = tracker.eventLoop
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                eventLoop.execute {
                    let tracker = tracker.value
                    if tracker.outstanding == 0 {
                        continuation.resume()
                    } else {
                        tracker.drained = continuation
                    }
                }
            }
        } onCancel: {
            eventLoop.execute { tracker.value.cancel() }
        }
    }
}
