import FleetCore
import Foundation
import Synchronization

/// Per-device token buckets (in memory, per node): `rate` posts per second sustained, `burst` at once.
final class DeviceRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let rate: Double
    private let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    init(rate: Int, burst: Int) {
        self.rate = Double(rate)
        self.burst = Double(burst)
    }

    /// Takes one token, or throws `rate_limited` with the seconds until one is available.
    func take(device: String, now: Double) throws(FleetError) {
        guard rate > 0 else { return }  // 0 disables the limit
        let wait: Double? = buckets.withLock { buckets in
            if buckets.count > 1_000_000 {
                // Bound memory: full buckets carry no information and can be forgotten.
                buckets = buckets.filter { now - $0.value.updated < burst / rate }
            }
            var bucket = buckets[device] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                buckets[device] = bucket
                return nil
            }
            buckets[device] = bucket
            return (1 - bucket.tokens) / rate
        }
        if let wait {
            throw FleetError(
                .rateLimited, "device exceeds \(Int(rate)) posts/s", retryAfter: max(1, Int(wait.rounded(.up))))
        }
    }
}
