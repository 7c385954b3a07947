import CoreMetrics
import FleetAuth
import FleetCore
import Foundation
import Logging
import Synchronization

/// Slows down password guessing per username: after `maxFailures` failures within `window`,
/// further attempts are refused with 429 until the window has passed. In memory, per node.
///
/// An attempt is reserved before its bcrypt check and counts toward the limit while it runs, as if
/// it had failed already: otherwise a burst of parallel guesses would all pass the check before the
/// first failure was recorded, each buying one bcrypt run.
final class LoginThrottle: Sendable {
    private struct Record {
        /// Failures since `firstFailure`.
        var failures = 0
        var firstFailure: Date?
        /// Reserved attempts whose password check has not finished.
        var inFlight = 0

        var isEmpty: Bool { failures == 0 && inFlight == 0 }
    }

    private struct Records {
        var byUsername: [String: Record] = [:]
        /// Pruned when a new username would take the count to this; raised when little was freed.
        var pruneAt: Int
    }

    private let maxFailures: Int
    private let window: TimeInterval
    private let bound: Int
    private let state: Mutex<Records>

    /// `bound` usernames are tracked before idle and expired records are pruned.
    init(maxFailures: Int, window: TimeInterval, bound: Int = 100_000) {
        self.maxFailures = maxFailures
        self.window = window
        self.bound = bound
        self.state = Mutex(Records(pruneAt: bound))
    }

    /// Usernames with a record (for tests of the bound).
    var trackedUsernames: Int { state.withLock { $0.byUsername.count } }

    /// Memory stays bounded under a username spray without forgetting a lock-out: first records
    /// that hold nothing back (no attempt running, failures expired or below the limit) go. Clearing
    /// everything instead would let a spray of new usernames reset the lock-out of the one under
    /// attack. Scans only when the count reaches `pruneAt`.
    private func prune(_ records: inout Records, now: Date) {
        records.byUsername = records.byUsername.filter { _, record in
            guard record.inFlight == 0 else { return true }
            guard let first = record.firstFailure, now.timeIntervalSince(first) < window else { return false }
            return record.failures >= maxFailures
        }
        records.pruneAt = max(bound, records.byUsername.count * 2)
    }

    /// Reserves an attempt for `username`, or throws `rate_limited` when its failures and the
    /// attempts still running reach `maxFailures`. Every reservation ends in exactly one of
    /// `failed`, `succeeded` or `abandoned`.
    func reserve(_ username: String, now: Date) throws(FleetError) {
        let retry: Int? = state.withLock { state in
            if state.byUsername[username] == nil, state.byUsername.count >= state.pruneAt { prune(&state, now: now) }
            var record = state.byUsername[username] ?? Record()
            if let first = record.firstFailure, now.timeIntervalSince(first) >= window {
                record.failures = 0
                record.firstFailure = nil
            }
            guard record.failures + record.inFlight < maxFailures else {
                state.byUsername[username] = record.isEmpty ? nil : record
                guard record.failures >= maxFailures, let first = record.firstFailure else {
                    // Held back only by attempts still running: those end within about a second
                    // (bcrypt, then at most 1 s of slow-down), so that is when to come back.
                    return 1
                }
                return Int((window - now.timeIntervalSince(first)).rounded(.up))
            }
            record.inFlight += 1
            state.byUsername[username] = record
            return nil
        }
        if let retry {
            throw FleetError(
                .rateLimited, "too many failed logins for this username; retry later", retryAfter: max(retry, 1))
        }
    }

    /// Turns a reservation into a failure; returns how long to hold the failure answer back: nothing
    /// for the first failure, then 250 ms more for each further one, at most 1 s (issue 3: "slowed
    /// down, then 429").
    @discardableResult
    func failed(_ username: String, now: Date) -> Duration {
        let failures = state.withLock { state in
            var record = state.byUsername[username] ?? Record()
            record.inFlight = max(record.inFlight - 1, 0)
            if record.firstFailure == nil { record.firstFailure = now }
            record.failures += 1
            state.byUsername[username] = record
            return record.failures
        }
        return Self.delay(afterFailures: failures)
    }

    static func delay(afterFailures failures: Int) -> Duration {
        .milliseconds(250 * min(max(failures - 1, 0), 4))
    }

    /// Ends a reservation with the right password: the username's failures are forgotten. Other
    /// attempts still running keep their reservations.
    func succeeded(_ username: String) {
        state.withLock { state in
            guard var record = state.byUsername[username] else { return }
            record.inFlight = max(record.inFlight - 1, 0)
            record.failures = 0
            record.firstFailure = nil
            state.byUsername[username] = record.isEmpty ? nil : record
        }
    }

    /// Ends a reservation whose check never finished (a database error, cancellation): it counts
    /// neither way.
    func abandoned(_ username: String) {
        state.withLock { state in
            guard var record = state.byUsername[username] else { return }
            record.inFlight = max(record.inFlight - 1, 0)
            state.byUsername[username] = record.isEmpty ? nil : record
        }
    }
}
