import FleetCore
import Foundation
import Testing

@testable import Provisioning

/// The throttle's counting without HTTP or bcrypt: reservations, and how each one ends.
@Suite("Login throttle: attempts reserved while checked")
struct LoginThrottleTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)

    func isRefused(_ throttle: LoginThrottle, _ username: String = "u", at now: Date) -> Bool {
        do {
            try throttle.reserve(username, now: now)
            return false
        } catch {
            return error.code == .rateLimited
        }
    }

    @Test("attempts still being checked count toward the limit; other usernames are unaffected")
    func inFlightCounts() {
        let throttle = LoginThrottle(maxFailures: 3, window: 60)
        for _ in 0..<3 { #expect(!isRefused(throttle, at: start)) }
        #expect(isRefused(throttle, at: start))
        #expect(!isRefused(throttle, "other", at: start))
    }

    @Test("an abandoned attempt frees its place; a failed one keeps it until the window has passed")
    func endings() {
        let throttle = LoginThrottle(maxFailures: 2, window: 60)
        #expect(!isRefused(throttle, at: start))
        throttle.abandoned("u")
        #expect(!isRefused(throttle, at: start))
        #expect(throttle.failed("u", now: start) == .zero)
        #expect(!isRefused(throttle, at: start))
        #expect(throttle.failed("u", now: start) == .milliseconds(250))
        #expect(isRefused(throttle, at: start.addingTimeInterval(59)))
        #expect(!isRefused(throttle, at: start.addingTimeInterval(60)))
    }

    @Test("a success forgets the failures but not the other attempts still running")
    func success() {
        let throttle = LoginThrottle(maxFailures: 3, window: 60)
        #expect(!isRefused(throttle, at: start))
        throttle.failed("u", now: start)
        #expect(!isRefused(throttle, at: start))
        #expect(!isRefused(throttle, at: start))
        #expect(isRefused(throttle, at: start))  // one failure, two running
        throttle.succeeded("u")
        #expect(!isRefused(throttle, at: start))
        #expect(!isRefused(throttle, at: start))  // no failures, three running
        #expect(isRefused(throttle, at: start))
    }

    @Test(
        "a refusal caused only by running attempts asks to retry in a second; one after failures, when the window ends")
    func retryAfter() {
        let throttle = LoginThrottle(maxFailures: 1, window: 60)
        #expect(!isRefused(throttle, at: start))
        #expect(
            throws: FleetError(.rateLimited, "too many failed logins for this username; retry later", retryAfter: 1)
        ) {
            try throttle.reserve("u", now: start)
        }
        throttle.failed("u", now: start)
        #expect(
            throws: FleetError(.rateLimited, "too many failed logins for this username; retry later", retryAfter: 50)
        ) {
            try throttle.reserve("u", now: start.addingTimeInterval(10))
        }
    }
}

@Suite("Login throttle under a username spray")
struct LoginThrottleSprayTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)

    @Test("new usernames past the bound prune idle records, never a lock-out still in force")
    func sprayKeepsLockout() {
        let throttle = LoginThrottle(maxFailures: 2, window: 60, bound: 10)
        for _ in 0..<2 {
            try? throttle.reserve("admin", now: start)
            throttle.failed("admin", now: start)
        }
        #expect(throws: FleetError.self) { try throttle.reserve("admin", now: start) }
        // A spray of one wrong guess per name: none of them locked out.
        for index in 0..<1_000 {
            let name = "spray-\(index)"
            try? throttle.reserve(name, now: start.addingTimeInterval(1))
            throttle.failed(name, now: start.addingTimeInterval(1))
        }
        #expect(throttle.trackedUsernames <= 20)
        #expect(throws: FleetError.self) { try throttle.reserve("admin", now: start.addingTimeInterval(2)) }
        // Once its window has passed, the lock-out goes like any other record.
        #expect((try? throttle.reserve("admin", now: start.addingTimeInterval(61))) != nil)
    }
}
