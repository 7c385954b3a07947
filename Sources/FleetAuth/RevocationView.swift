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

    /// A change applied while at least one reload was reading, kept so the reload cannot undo it.
    private struct Change {
        var sequence: UInt64
        var entry: Entry?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Reloads under way: the start-up one, the periodic one and the one after a reconnect can overlap.
        var reloadsReading = 0
        var nextSequence: UInt64 = 0
        /// Reloads in the order they began; the one installed last. An older read finishing after
        /// a newer one is dropped.
        var nextReload: UInt64 = 0
        var installedReload: UInt64?
        /// The newest change per device since the oldest reload under way began; empty when none is.
        var changesWhileReading: [String: Change] = [:]
    }

    private let state: Mutex<State>

    public init() {
        state = Mutex(State())
    }

    /// True when a token of `device` issued at `issuedAt` must be refused.
    public func isRevoked(device: String, issuedAt: Int64) -> Bool {
        state.withLock { state in
            guard let entry = state.entries[device] else { return false }
            return entry.disabled || issuedAt < entry.cutoff
        }
    }

    /// Replaces the whole view with what `read` returns, then re-applies every change applied
    /// after `read` began: those may be newer than what it read, and undoing one would let a
    /// just-revoked device back in until the next reload. A read that began before the one
    /// installed last is dropped: the periodic reload can overlap the one after a reconnect, and
    /// with the listening connection down, a revocation it missed had no notification to re-apply.
    public func reload(_ read: () async throws -> [String: Entry]) async rethrows {
        let (start, order) = state.withLock { state in
            state.reloadsReading += 1
            defer { state.nextReload += 1 }
            return (state.nextSequence, state.nextReload)
        }
        let entries: [String: Entry]
        do {
            entries = try await read()
        } catch {
            state.withLock { Self.endReading(&$0) }
            throw error
        }
        state.withLock { state in
            if let installed = state.installedReload, installed > order {
                Self.endReading(&state)
                return
            }
            state.installedReload = order
            state.entries = entries
            // A change is a device's whole state as of its commit and changes arrive in commit
            // order, so the newest one wins. One older than the read is re-applied too (it cannot
            // be told apart); a change that followed it is already here or on its way.
            for (device, change) in state.changesWhileReading where change.sequence >= start {
                state.entries[device] = change.entry
            }
            Self.endReading(&state)
        }
    }

    private static func endReading(_ state: inout State) {
        state.reloadsReading -= 1
        if state.reloadsReading == 0 { state.changesWhileReading.removeAll() }
    }

    /// Applies one change (a notification): the device's whole state, nil when nothing is revoked.
    public func apply(device: String, entry: Entry?) {
        state.withLock { state in
            state.entries[device] = entry
            if state.reloadsReading > 0 {
                state.changesWhileReading[device] = Change(sequence: state.nextSequence, entry: entry)
            }
            state.nextSequence += 1
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }
}
