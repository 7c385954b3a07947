import Synchronization

/// Remembers tokens whose signature and claims were verified, so a repeat skips RSA. Keyed by the
/// whole token (header, payload and signature): keying on the signature alone would let a valid
/// signature be replayed with another payload. An entry lives until the token's `exp`; the cache
/// is bounded and drops expired entries first, then an arbitrary half, when full.
public final class VerifiedTokenCache: Sendable {
    private struct Entry {
        var claims: AccessClaims
    }

    private let capacity: Int
    private let entries: Mutex<[String: Entry]>

    public init(capacity: Int) {
        self.capacity = max(capacity, 0)
        self.entries = Mutex([:])
    }

    /// The claims of a cached token still within `exp` (plus leeway), or nil.
    public func claims(for token: String, now: Int64, leeway: Int64) -> AccessClaims? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard entry.claims.exp + leeway > now else {
                entries[token] = nil
                return nil
            }
            return entry.claims
        }
    }

    public func insert(_ token: String, claims: AccessClaims, now: Int64) {
        guard capacity > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.claims.exp > now }
                if entries.count >= capacity {
                    // Still full of live tokens: drop half rather than scan for the oldest on every insert.
                    var dropped = 0
                    let target = entries.count / 2
                    for key in entries.keys {
                        if dropped >= target { break }
                        entries[key] = nil
                        dropped += 1
                    }
                }
            }
            entries[token] = Entry(claims: claims)
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}
