import CoreMetrics
import FleetAuth
import FleetCore
import Foundation
import Logging
import Synchronization

/// Slows down password guessing per username: after `maxFailures` failures within `window`,
/// further attempts are refused with 429 until the window has passed. In memory, per node.
final class LoginThrottle: Sendable {
    private struct Record {
        var failures: Int
        var since: Date
    }

    private let maxFailures: Int
    private let window: TimeInterval
    private let records = Mutex<[String: Record]>([:])

    init(maxFailures: Int, window: TimeInterval) {
        self.maxFailures = maxFailures
        self.window = window
    }

    /// Throws `rate_limited` when the username is locked out.
    func check(_ username: String, now: Date) throws(FleetError) {
        let retry: Int? = records.withLock { records in
            guard let record = records[username] else { return nil }
            let elapsed = now.timeIntervalSince(record.since)
            if elapsed >= window {
                records[username] = nil
                return nil
            }
            return record.failures >= maxFailures ? Int((window - elapsed).rounded(.up)) : nil
        }
        if let retry {
            throw FleetError(
                .rateLimited, "too many failed logins for this username; retry later", retryAfter: max(retry, 1))
        }
    }

    /// Records a failure; returns how long to hold the failure answer back: nothing for the first
    /// failure, then 250 ms more for each further one, at most 1 s (issue 3: "slowed down, then 429").
    @discardableResult
    func failed(_ username: String, now: Date) -> Duration {
        let failures = records.withLock { records in
            if records.count > 100_000 { records.removeAll() }  // bound memory under a username spray
            var record = records[username] ?? Record(failures: 0, since: now)
            record.failures += 1
            records[username] = record
            return record.failures
        }
        return Self.delay(afterFailures: failures)
    }

    static func delay(afterFailures failures: Int) -> Duration {
        .milliseconds(250 * min(max(failures - 1, 0), 4))
    }

    func succeeded(_ username: String) {
        _ = records.withLock { $0.removeValue(forKey: username) }
    }
}
