import Foundation
import Synchronization

/// Remembers tokens whose signature and claims were verified, so a repeat skips RSA. Keyed by the
/// whole token (header, payload and signature): keying on the signature alone would let a valid
/// signature be replayed with another payload. An entry lives until the token's `exp`; the cache
/// is bounded and drops expired entries first, then an arbitrary half, when full.
public final class VerifiedTokenCache: Sendable {
    private struct Entry {
        var claims: AccessClaims
    }

    /// The whole token as the key. Equality compares every byte; the hash reads only the length
    /// and the last 16 bytes, which are signature bytes: hashing all ~800 bytes with SipHash cost
    /// more than the rest of a cache hit (BENCHMARKS.md, "cached token"). Hashing a part cannot
    /// let a token match another (equality decides), and cannot be used to flood one bucket:
    /// only verified tokens are inserted, and a signature tail cannot be chosen without the key.
    struct Key: Hashable {
        let token: String

        init(_ token: String) {
            var token = token
            token.makeContiguousUTF8()  // free for native strings; lets == and hash use pointers
            self.token = token
        }

        static func == (a: Key, b: Key) -> Bool {
            var a = a.token
            var b = b.token
            return a.withUTF8 { x in
                b.withUTF8 { y in
                    x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
                }
            }
        }

        func hash(into hasher: inout Hasher) {
            var token = token
            token.withUTF8 { bytes in
                hasher.combine(bytes.count)
                hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes).suffix(16)))
            }
        }
    }

    private let capacity: Int
    private let entries: Mutex<[Key: Entry]>

    public init(capacity: Int) {
        self.capacity = max(capacity, 0)
        self.entries = Mutex([:])
    }

    /// The claims of a cached token still within `exp` (plus leeway), or nil.
    public func claims(for token: String, now: Int64, leeway: Int64) -> AccessClaims? {
        let key = Key(token)
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.claims.exp + leeway > now else {
                entries[key] = nil
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
            entries[Key(token)] = Entry(claims: claims)
        }
    }

    /// Forgets every entry: a key left the JWKS, and the tokens it signed must be verified again
    /// (and fail). Rare, so nothing is kept per key to drop only its entries.
    public func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    public var count: Int { entries.withLock { $0.count } }
}
