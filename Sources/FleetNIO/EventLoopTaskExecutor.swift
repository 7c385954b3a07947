import NIOCore

/// Runs tasks on one NIO event loop. A task that prefers it shares a thread with the connections
/// of that loop: resuming after an answer is a queue append on that thread, not a wake-up of a
/// cooperative-pool thread (each such hop a context switch). The simulator's request tasks and
/// ingest's writer workers prefer one.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
