import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import FleetStore

@Suite("The database client's service: shutdown is bounded")
struct DatabaseClientServiceTests {
    /// A run loop that ends only when told, whatever cancellation says, like postgres-nio's pool
    /// waiting for a statement that never returns.
    final class StuckLoop: Sendable {
        private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let started = Atomic<Bool>(false)

        func run() async {
            await withCheckedContinuation { continuation in
                waiter.withLock { $0 = continuation }
                started.store(true, ordering: .relaxed)
            }
        }

        func release() {
            waiter.withLock { $0.take() }?.resume()
        }
    }

    @Test("a run loop that never ends holds the service no longer than its close timeout")
    func stuckLoop() async throws {
        let loop = StuckLoop()
        let service = DatabaseClientService(closeTimeout: .milliseconds(300), logger: TestLogger.quiet) {
            await loop.run()
        }
        let task = Task { try await service.run() }
        while !loop.started.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
        let stopped = ContinuousClock.now
        task.cancel()
        try await task.value
        let waited = ContinuousClock.now - stopped
        #expect(waited >= .milliseconds(300), "returned after \(waited), before the loop's close timeout")
        #expect(waited < .seconds(10), "returned after \(waited)")
        loop.release()
    }

    @Test("a run loop that ends on cancellation ends the service at once")
    func wellBehavedLoop() async throws {
        let service = DatabaseClientService(closeTimeout: .seconds(60), logger: TestLogger.quiet) {
            try? await Task.sleep(for: .seconds(3600))
        }
        let task = Task { try await service.run() }
        try await Task.sleep(for: .milliseconds(50))
        let stopped = ContinuousClock.now
        task.cancel()
        try await task.value
        #expect(ContinuousClock.now - stopped < .seconds(30))
    }

    @Test("in a service group, graceful shutdown ends it")
    func gracefulShutdown() async throws {
        let service = DatabaseClientService(closeTimeout: .seconds(60), logger: TestLogger.quiet) {
            try? await Task.sleep(for: .seconds(3600))
        }
        let group = ServiceGroup(services: [service], logger: TestLogger.quiet)
        let task = Task { try await group.run() }
        try await Task.sleep(for: .milliseconds(50))
        let stopped = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await task.value
        #expect(ContinuousClock.now - stopped < .seconds(30))
    }
}

enum TestLogger {
    static let quiet: Logger = {
        var logger = Logger(label: "database-client-service-test")
        logger.logLevel = .critical
        return logger
    }()
}
