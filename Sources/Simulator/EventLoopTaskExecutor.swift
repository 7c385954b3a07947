import NIOCore

/// Runs tasks on one NIO event loop. The request tasks of a run prefer it, so a task and the
/// connection that carries its request share one thread: resuming after an answer is a queue
/// append on that thread, not a wake-up of a cooperative-pool thread (on one core, each such
/// hop was a context switch).
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension EventLoopTaskExecutor {
    /// Sleeps until `deadline` on the loop's own timer. A `ContinuousClock` sleep is a timer on
    /// libdispatch's manager thread that then wakes the loop from outside; at 25 000 due
    /// requests a second that hop cost more than building a request.
    func sleep(until deadline: ContinuousClock.Instant) async throws {
        let delay = deadline - .now
        guard delay > .zero else { return }
        let scheduled = eventLoop.scheduleTask(in: TimeAmount(delay)) {}
        try await withTaskCancellationHandler {
            try await scheduled.futureResult.get()
        } onCancel: {
            scheduled.cancel()
        }
    }
}
