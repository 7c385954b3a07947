import Synchronization

/// The in-memory answer to "is this device's token revoked?", so authentication needs no database
/// round trip. Fed by the revocation feed (LISTEN/NOTIFY plus periodic full reloads).
public final class RevocationView: Sendable {
    /// A device's revocation state.
    public struct Entry: Sendable, Equatable {
        /// The device is disabled (revoked and not re-credentialed, or deleted): every token fails.
        public var disabled: Bool
        /// Tokens issued before this Unix second are revoked.
        public var cutoff: Int64

        public init(disabled: Bool, cutoff: Int64) {
            self.disabled = disabled
            self.cutoff = cutoff
        }
    }

    private let state: Mutex<[String: Entry]>

    public init() {
        state = Mutex([:])
    }

    /// True when a token of `device` issued at `issuedAt` must be refused.
    public func isRevoked(device: String, issuedAt: Int64) -> Bool {
        state.withLock { state in
            guard let entry = state[device] else { return false }
            return entry.disabled || issuedAt < entry.cutoff
        }
    }

    /// Replaces the whole view (full reload).
    public func replaceAll(_ entries: [String: Entry]) {
        state.withLock { $0 = entries }
    }

    /// Applies one change (a notification).
    public func apply(device: String, entry: Entry?) {
        state.withLock { $0[device] = entry }
    }

    public var count: Int { state.withLock { $0.count } }
}
