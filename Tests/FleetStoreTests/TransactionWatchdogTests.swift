import FleetCore
import FleetTestSupport
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import FleetStore

@Suite("Transaction deadlines (one watchdog sweep for all)")
struct TransactionWatchdogTests {
    let logger = Logger(label: "test")

    @Test("a transaction that finishes in time returns its value and is no longer watched")
    func inTime() async throws {
        let watchdog = TransactionWatchdog(interval: .milliseconds(20))
        let sweeping = Task { await watchdog.run() }
        defer { sweeping.cancel() }
        let value = try await TransactionDeadline<Int>.run(.seconds(5), watchdog: watchdog, logger: logger) { _ in 42 }
        #expect(value == 42)
        #expect(watchdog.watching == 0)
    }

    @Test("a transaction past its deadline is answered overloaded at once, though it never finishes")
    func hung() async throws {
        let watchdog = TransactionWatchdog(interval: .milliseconds(20))
        let sweeping = Task { await watchdog.run() }
        defer { sweeping.cancel() }
        let release = Release()
        let started = ContinuousClock.now
        do {
            _ = try await TransactionDeadline<Int>.run(.milliseconds(150), watchdog: watchdog, logger: logger) { _ in
                await release.wait()  // stands for a statement that never gets an answer
                return 1
            }
            Issue.record("the hung transaction returned")
        } catch let error as FleetError {
            #expect(error.code == .overloaded)
        }
        #expect(ContinuousClock.now - started >= .milliseconds(150))
        #expect(watchdog.watching == 0)
        release.open()  // lets the abandoned operation end; its late result is dropped
    }

    @Test("a transaction that gets its connection only after its deadline does not start")
    func lateConnection() async throws {
        let url = try await TestDatabase.create()
        try await withDatabase(url: url, logger: logger) { client in
            let watchdog = TransactionWatchdog(interval: .milliseconds(20))
            let sweeping = Task { await watchdog.run() }
            defer { sweeping.cancel() }
            let release = Release()
            let ran = Atomic<Bool>(false)
            let attachRefused = Atomic<Bool>(false)
            do {
                _ = try await TransactionDeadline<Int>.run(.milliseconds(100), watchdog: watchdog, logger: logger) {
                    deadline in
                    await release.wait()  // stands for waiting on a pool while PostgreSQL is away
                    return try await client.withConnection { connection in
                        do {
                            try deadline.attach(connection)
                        } catch {
                            attachRefused.store(true, ordering: .relaxed)
                            throw error
                        }
                        ran.store(true, ordering: .relaxed)
                        return 1
                    }
                }
                Issue.record("the late transaction returned")
            } catch let error as FleetError {
                #expect(error.code == .overloaded)
            }
            release.open()
            for _ in 0..<100 where !attachRefused.load(ordering: .relaxed) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let refused = attachRefused.load(ordering: .relaxed)
            let started = ran.load(ordering: .relaxed)
            #expect(refused)
            #expect(!started)
        }
    }

    @Test("a sweep expires only what is due")
    func sweep() {
        let watchdog = TransactionWatchdog(interval: .seconds(1))
        let expired = Atomic<Int>(0)
        let now = ContinuousClock.now
        _ = watchdog.watch(until: now - .seconds(1)) { expired.add(1, ordering: .relaxed) }
        let later = watchdog.watch(until: now + .seconds(60)) { expired.add(100, ordering: .relaxed) }
        #expect(watchdog.sweep(now: now) == 1)
        #expect(expired.load(ordering: .relaxed) == 1)
        #expect(watchdog.watching == 1)
        watchdog.forget(later)
        #expect(watchdog.sweep(now: now + .seconds(120)) == 0)
        #expect(expired.load(ordering: .relaxed) == 1)
    }
}

/// A gate an operation waits at until the test opens it.
private final class Release: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }
}
