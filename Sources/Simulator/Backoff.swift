/// Delay before the next attempt of a failed request: exponential backoff with full jitter
/// (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015), never shorter than the
/// server's `Retry-After` (RFC 9110 §10.2.3).
public struct Backoff: Sendable, Equatable {
    /// Ceiling of the first retry's jitter window.
    public var base: Duration
    /// Largest jitter window, however many attempts failed.
    public var cap: Duration
    /// Attempts in all, the first included; after that the request is given up.
    public var maxAttempts: Int

    public init(base: Duration = .milliseconds(50), cap: Duration = .seconds(5), maxAttempts: Int = 8) {
        self.base = base
        self.cap = cap
        self.maxAttempts = maxAttempts
    }

    /// The jitter window after `failedAttempts` failures (1 after the first): min(cap, base × 2^(n−1)).
    public func window(afterFailedAttempts failedAttempts: Int) -> Duration {
        let exponent = max(0, min(failedAttempts - 1, 30))
        let window = base.seconds * Double(1 << exponent)
        return .seconds(double: min(window, cap.seconds))
    }

    /// Whether another attempt is allowed after `failedAttempts` failures.
    public func shouldRetry(afterFailedAttempts failedAttempts: Int) -> Bool {
        failedAttempts < maxAttempts
    }

    /// The delay before the next attempt. With `retryAfter`, the wait is `retryAfter` plus a
    /// jitter, so that every device told "1 s" by an overloaded server does not come back in
    /// the same millisecond; without it, a uniform draw from [0, window] (full jitter).
    public func delay(
        afterFailedAttempts failedAttempts: Int,
        retryAfter: Duration?,
        using random: inout some RandomNumberGenerator
    ) -> Duration {
        let window = self.window(afterFailedAttempts: failedAttempts).seconds
        let jitter = window > 0 ? Double.random(in: 0...window, using: &random) : 0
        if let retryAfter {
            return retryAfter + .seconds(double: jitter)
        }
        return .seconds(double: jitter)
    }
}
