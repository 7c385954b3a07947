import FleetCore
import PostgresNIO
import _ConnectionPoolModule

/// Which database errors mean "PostgreSQL cannot serve this now" rather than a bug: those are
/// answered 503 `overloaded` with Retry-After (API.md: "database unavailable"), so clients retry,
/// instead of 500. A transaction's wrapper is answered for its cause. Everything else stays an
/// internal error.
public enum DatabaseUnavailable {
    public static func fleetError(for error: any Error) -> FleetError? {
        if let wrapped = error as? PostgresTransactionError {
            // withTransaction wraps whatever failed inside it, our own FleetErrors included (a
            // conflict found in the transaction): answer for the cause, not for the wrapper.
            guard let cause = wrapped.closureError ?? wrapped.beginError ?? wrapped.commitError else { return nil }
            return cause as? FleetError ?? fleetError(for: cause)
        }
        // The pool throws its own error, not a PSQLError, once it has failed to connect for a while.
        let transient =
            (error as? PSQLError).map(isTransient)
            ?? (error is DatabaseLeaseTimeout
                || error as? ConnectionPoolError == .connectionCreationCircuitBreakerTripped)
        guard transient else { return nil }
        return FleetError(.overloaded, "database unavailable; nothing was changed, try again", retryAfter: 1)
    }

    static func isTransient(_ error: PSQLError) -> Bool {
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
            .queryCancelled:
            return true
        case .server:
            guard let state = error.serverInfo?[.sqlState] else { return false }
            return transientStates.contains(state) || state.hasPrefix("08") || state.hasPrefix("53")
        default:
            return false
        }
    }

    /// SQLSTATEs besides classes 08 (connection) and 53 (insufficient resources): shutdown and
    /// start-up, a cancelled or timed-out statement or lock wait, a serialization failure or deadlock.
    static let transientStates: Set<String> = ["57P01", "57P02", "57P03", "57014", "55P03", "40001", "40P01"]
}
