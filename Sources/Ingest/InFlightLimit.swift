import FleetCore
import Synchronization

/// Bounds the telemetry requests handled at once. Past the bound a post is refused at once with
/// 503 `overloaded`, before its body is read: a fast refusal the client retries later beats a
/// queue that only grows latency.
final class InFlightLimit: Sendable {
    let limit: Int
    private let current = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = max(limit, 1)
    }

    /// Enters, or throws `overloaded` when `limit` requests are already in flight.
    func enter() throws(FleetError) {
        let (_, now) = current.add(1, ordering: .relaxed)
        guard now <= limit else {
            current.subtract(1, ordering: .relaxed)
            throw FleetError(.overloaded, "more than \(limit) requests in flight; retry later", retryAfter: 1)
        }
    }

    /// Leaves; call once for every successful `enter()`.
    func leave() {
        current.subtract(1, ordering: .relaxed)
    }

    /// Requests in flight now.
    var count: Int { current.load(ordering: .relaxed) }
}
