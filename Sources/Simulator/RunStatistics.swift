import Histogram
import Synchronization

/// How one attempt at a post ended.
public enum AttemptOutcome: Sendable, Equatable {
    /// 200 `{"accepted":N}`, or `{"accepted":0,"duplicate":true}` when `duplicate`.
    case accepted(records: Int, duplicate: Bool)
    /// A problem+json answer with its status, contract code and Retry-After (if any).
    case problem(status: Int, code: String, retryAfter: Duration?)
    /// No answer within the request timeout.
    case timeout
    /// The connection failed or closed before an answer; `reason` is what errors are counted by.
    case connectionError(reason: String = "connection_error")

    /// The key under which answers are counted: the HTTP status or what happened instead.
    public var statusKey: String {
        switch self {
        case .accepted: "200"
        case .problem(let status, _, _): String(status)
        case .timeout: "timeout"
        case .connectionError: "connection_error"
        }
    }

    /// Whether the same request may be sent again under the same Idempotency-Key:
    /// 429 and 503 (nothing was stored), timeouts and lost connections (maybe stored; the key
    /// makes the retry safe).
    public var isRetryable: Bool {
        switch self {
        case .accepted: false
        case .problem(let status, _, _): status == 429 || status == 503
        case .timeout, .connectionError: true
        }
    }
}

/// Counters, latency histograms and the ledger of one run, shared by every request task.
///
/// One `Mutex` guards them all; it is taken once per attempt for a few additions and never
/// across an `await`, which at 20 000 requests a second is far below contention.
final class RunStatistics: Sendable {
    struct State {
        var scheduled = 0
        var skipped = 0
        var attempts = 0
        var retries = 0
        var acknowledgedBatches = 0
        var acknowledgedRecords = 0
        var duplicateOnRetry = 0
        var duplicateOnFirstAttempt = 0
        var failedBatches = 0
        var inDoubtBatches = 0
        var answersByStatus: [String: Int] = [:]
        var errorsByCode: [String: Int] = [:]
        var tokenRefreshes = 0
        var tokenRefreshFailures: [String: Int] = [:]
        var corruptSent = 0
        var corruptAccepted = 0
        var unexpectedFailures = 0
        var acceptedAfterRevocation = 0
        var latency = RunStatistics.makeHistogram()
        var intervalLatency = RunStatistics.makeHistogram()
        var ledger: [LedgerBatch] = []
    }

    /// Latency in microseconds, 1 µs to 10 min at three significant digits.
    static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    private let state = Mutex(State())

    func withState<T>(_ body: (inout State) -> T) -> T {
        state.withLock { body(&$0) }
    }

    func recordScheduled(skipped: Bool) {
        state.withLock {
            $0.scheduled += 1
            if skipped { $0.skipped += 1 }
        }
    }

    func recordAttempt(_ outcome: AttemptOutcome, isRetry: Bool) {
        state.withLock { state in
            state.attempts += 1
            if isRetry { state.retries += 1 }
            state.answersByStatus[outcome.statusKey, default: 0] += 1
            switch outcome {
            case .accepted: break
            case .problem(_, let code, _): state.errorsByCode[code, default: 0] += 1
            case .timeout: state.errorsByCode["timeout", default: 0] += 1
            case .connectionError(let reason): state.errorsByCode[reason, default: 0] += 1
            }
        }
    }

    /// How a batch ended.
    enum Ending {
        /// Answered 200. `batch` is nil for a corrupt body (it must never be acknowledged).
        case acknowledged(LedgerBatch?, duplicate: Bool, firstAttempt: Bool, corrupt: Bool, afterRevocation: Bool)
        /// Refused for good or out of attempts; `inDoubt` when an attempt may have stored it;
        /// `expected` when chaos asked for it (corrupt, skewed or revoked device).
        case gaveUp(inDoubt: LedgerBatch?, expected: Bool)
    }

    /// Records the end of one batch: its latency from the scheduled send time and its fate.
    func recordCompletion(latency: Duration, ending: Ending) {
        let micros = UInt64(max(1, min(latency.seconds * 1e6, 600_000_000)))
        state.withLock { state in
            state.latency.record(micros)
            state.intervalLatency.record(micros)
            switch ending {
            case .acknowledged(let batch, let duplicate, let firstAttempt, let corrupt, let afterRevocation):
                if corrupt { state.corruptAccepted += 1 }
                if afterRevocation { state.acceptedAfterRevocation += 1 }
                guard let batch else { return }
                state.ledger.append(batch)
                state.acknowledgedBatches += 1
                state.acknowledgedRecords += batch.recordCount
                if duplicate {
                    if firstAttempt { state.duplicateOnFirstAttempt += 1 } else { state.duplicateOnRetry += 1 }
                }
            case .gaveUp(let inDoubt, let expected):
                if !expected { state.unexpectedFailures += 1 }
                if let inDoubt {
                    state.ledger.append(inDoubt)
                    state.inDoubtBatches += 1
                } else {
                    state.failedBatches += 1
                }
            }
        }
    }

    func recordTokenRefresh(failureCode: String?) {
        state.withLock {
            if let failureCode {
                $0.tokenRefreshFailures[failureCode, default: 0] += 1
            } else {
                $0.tokenRefreshes += 1
            }
        }
    }
}
