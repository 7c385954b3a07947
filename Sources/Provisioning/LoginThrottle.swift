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

    private let maxFailures: Int
    private let window: TimeInterval
    private let records = Mutex<[String: Record]>([:])

    init(maxFailures: Int, window: TimeInterval) {
        self.maxFailures = maxFailures
        self.window = window
    }

    /// Reserves an attempt for `username`, or throws `rate_limited` when its failures and the
    /// attempts still running reach `maxFailures`. Every reservation ends in exactly one of
    /// `failed`, `succeeded` or `abandoned`.
    func reserve(_ username: String, now: Date) throws(FleetError) {
        let retry: Int? = records.withLock { records in
            if records.count > 100_000 { records.removeAll() }  // bound memory under a username spray
            var record = records[username] ?? Record()
            if let first = record.firstFailure, now.timeIntervalSince(first) >= window {
                record.failures = 0
                record.firstFailure = nil
            }
            guard record.failures + record.inFlight < maxFailures else {
                records[username] = record.isEmpty ? nil : record
                guard record.failures >= maxFailures, let first = record.firstFailure else {
                    // Held back only by attempts still running: those end within about a second
                    // (bcrypt, then at most 1 s of slow-down), so that is when to come back.
                    return 1
                }
                return Int((window - now.timeIntervalSince(first)).rounded(.up))
            }
            record.inFlight += 1
            records[username] = record
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
        let failures = records.withLock { records in
            // The record may have been dropped by the memory bound meanwhile: start a new one.
            var record = records[username] ?? Record()
            record.inFlight = max(record.inFlight - 1, 0)
            if record.firstFailure == nil { record.firstFailure = now }
            record.failures += 1
            records[username] = record
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
        records.withLock { records in
            guard var record = records[username] else { return }
            record.inFlight = max(record.inFlight - 1, 0)
            record.failures = 0
            record.firstFailure = nil
            records[username] = record.isEmpty ? nil : record
        }
    }

    /// Ends a reservation whose check never finished (a database error, cancellation): it counts
    /// neither way.
    func abandoned(_ username: String) {
        records.withLock { records in
            guard var record = records[username] else { return }
            record.inFlight = max(record.inFlight - 1, 0)
            records[username] = record.isEmpty ? nil : record
        }
    }
}
