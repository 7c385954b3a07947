import FleetCore
import Foundation
import Synchronization

/// A wall clock the test moves by hand, for expiry and grace windows without sleeping.
public final class FakeClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date()) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}
