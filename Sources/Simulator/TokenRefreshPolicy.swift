/// When a device asks for a new access token: at `fraction` of the token's lifetime, spread by
/// a small jitter so 10 000 tokens minted in the same second are not refreshed in the same
/// second an hour later.
public struct TokenRefreshPolicy: Sendable, Equatable {
    /// Share of `expires_in` after which the token is refreshed (0.8: 48 min of a 1 h token).
    public var fraction: Double
    /// ± share of the lifetime added at random (0.05: ±3 min of a 1 h token).
    public var jitter: Double
    /// Shortest wait, so a server answering `expires_in: 0` does not cause a refresh loop.
    public var minimumDelay: Duration
    /// Wait before trying again after a refresh that failed for a transient reason.
    public var retryDelay: Duration

    public init(
        fraction: Double = 0.8,
        jitter: Double = 0.05,
        minimumDelay: Duration = .seconds(1),
        retryDelay: Duration = .seconds(2)
    ) {
        precondition(fraction > 0 && fraction < 1, "fraction must be in (0, 1)")
        precondition(jitter >= 0 && fraction + jitter < 1, "jitter must keep the refresh before expiry")
        self.fraction = fraction
        self.jitter = jitter
        self.minimumDelay = minimumDelay
        self.retryDelay = retryDelay
    }

    /// How long after receiving a token with lifetime `expiresIn` to refresh it. Always before
    /// expiry for lifetimes above `minimumDelay`.
    public func refreshDelay(expiresIn: Duration, using random: inout some RandomNumberGenerator) -> Duration {
        let lifetime = expiresIn.seconds
        let share = jitter > 0 ? Double.random(in: (fraction - jitter)...(fraction + jitter), using: &random) : fraction
        let delay = Duration.seconds(double: lifetime * share)
        return max(delay, minimumDelay)
    }
}
