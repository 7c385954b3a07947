/// When ingest fetches the JWKS next, and which failed fetches it logs. Every refresh counts,
/// periodic or for an unknown kid.
///
/// After a success the next one is due `refreshInterval` later. After failures in a row, once a
/// key set is held, the wait starts at `firstRetry` and doubles up to `refreshInterval`: the
/// held keys keep verifying, and ten fetches a second from every node (what a negative delay
/// clamped to 100 ms gave) would only add load to a provisioning service that is down. Until the
/// first key set arrives the node cannot verify anything, so it keeps retrying every `firstRetry`.
struct JWKSRefreshSchedule: Sendable, Equatable {
    let refreshInterval: Duration
    let firstRetry: Duration
    /// A failure streak is logged at its start, then at most this often.
    let logInterval: Duration

    private(set) var lastSuccess: ContinuousClock.Instant?
    private(set) var lastFailure: ContinuousClock.Instant?
    private(set) var lastLoggedFailure: ContinuousClock.Instant?
    /// Failed refreshes since the last success.
    private(set) var failuresInARow = 0

    init(refreshInterval: Duration, firstRetry: Duration = .seconds(1), logInterval: Duration = .seconds(60)) {
        self.refreshInterval = refreshInterval
        // A refresh interval below a second must not make the first retry wait longer than it.
        self.firstRetry = min(firstRetry, refreshInterval)
        self.logInterval = logInterval
    }

    /// When the next periodic refresh is due; nil before any refresh was tried.
    var nextRefresh: ContinuousClock.Instant? {
        if let lastFailure, failuresInARow > 0 { return lastFailure + retryDelay }
        return lastSuccess.map { $0 + refreshInterval }
    }

    /// The wait after the latest failure of the streak.
    var retryDelay: Duration {
        guard lastSuccess != nil else { return firstRetry }
        // firstRetry × 2^(n-1); stops doubling at the cap, long before a Duration could overflow.
        var delay = firstRetry
        for _ in 1..<max(failuresInARow, 1) {
            delay *= 2
            if delay >= refreshInterval { return refreshInterval }
        }
        return min(delay, refreshInterval)
    }

    /// Records a success; returns the failures in a row it ends (to log the recovery).
    mutating func succeeded(at now: ContinuousClock.Instant) -> Int {
        let ended = failuresInARow
        lastSuccess = now
        failuresInARow = 0
        lastFailure = nil
        lastLoggedFailure = nil
        return ended
    }

    /// Records a failure; returns whether to log it: the first of a streak, then one per `logInterval`.
    mutating func failed(at now: ContinuousClock.Instant) -> Bool {
        failuresInARow += 1
        lastFailure = now
        if let logged = lastLoggedFailure, now - logged < logInterval { return false }
        lastLoggedFailure = now
        return true
    }
}
