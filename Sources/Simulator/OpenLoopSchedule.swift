/// When each request of an open-loop run is due, counted from the start of the run.
///
/// Open loop: the send time of request `i` depends only on `i`, never on earlier answers, so a
/// slow server cannot slow the generator down and hide its own latency (coordinated omission,
/// Gil Tene, "How NOT to measure latency"). During `rampUp` the rate grows linearly from 0 to
/// `rate`; after it the rate is held.
public struct OpenLoopSchedule: Sendable, Equatable {
    /// Target requests per second once ramped up.
    public let rate: Double
    /// Time over which the rate rises linearly from 0 to `rate`.
    public let rampUp: Duration

    public init(rate: Double, rampUp: Duration = .zero) {
        precondition(rate > 0, "rate must be positive")
        self.rate = rate
        self.rampUp = rampUp
    }

    private var rampSeconds: Double { rampUp.seconds }

    /// Requests due in the ramp: the area of the triangle, rate × rampUp / 2.
    private var requestsInRamp: Double { rate * rampSeconds / 2 }

    /// How long after the start request `index` (0-based) is due.
    public func offset(ofRequest index: Int) -> Duration {
        let i = Double(index)
        let seconds: Double
        if rampSeconds > 0, i < requestsInRamp {
            // N(t) = rate × t² / (2 × rampUp)  ⇒  t = √(2 × rampUp × i / rate)
            seconds = (2 * rampSeconds * i / rate).squareRoot()
        } else {
            seconds = rampSeconds + (i - requestsInRamp) / rate
        }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// How many requests are due strictly before `elapsed` has passed.
    public func requestCount(before elapsed: Duration) -> Int {
        let t = elapsed.seconds
        guard t > 0 else { return 0 }
        let due: Double
        if rampSeconds > 0, t <= rampSeconds {
            due = rate * t * t / (2 * rampSeconds)
        } else {
            due = requestsInRamp + (t - rampSeconds) * rate
        }
        // Request i is due at offset(i); it counts when offset(i) < elapsed.
        var count = Int(due.rounded(.up))
        while count > 0, offset(ofRequest: count - 1) >= elapsed { count -= 1 }
        while offset(ofRequest: count) < elapsed { count += 1 }
        return count
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }

    /// A duration from a number of seconds.
    static func seconds(double value: Double) -> Duration {
        .nanoseconds(Int64((value * 1e9).rounded()))
    }
}
