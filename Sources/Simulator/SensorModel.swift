/// One simulated sensor kind: a SenML name and unit, and how its reading drifts.
public struct SensorKind: Sendable, Equatable {
    /// The SenML record name (`n`), appended to the device's base name.
    public let name: String
    /// The SenML unit (`u`, RFC 8428 §12.1 registry).
    public let unit: String
    /// Typical starting reading.
    public let mean: Double
    /// Largest step of the random walk per reading.
    public let step: Double
    /// Readings never leave this range (a battery is not at 130 %).
    public let range: ClosedRange<Double>
    /// Decimal places sent, as a real sensor would report them.
    public let decimals: Int

    public init(name: String, unit: String, mean: Double, step: Double, range: ClosedRange<Double>, decimals: Int) {
        self.name = name
        self.unit = unit
        self.mean = mean
        self.step = step
        self.range = range
        self.decimals = decimals
    }

    /// The sensors every simulated device carries.
    public static let standard: [SensorKind] = [
        SensorKind(name: "temp", unit: "Cel", mean: 21, step: 0.05, range: -40...85, decimals: 2),
        SensorKind(name: "humidity", unit: "%RH", mean: 45, step: 0.2, range: 0...100, decimals: 1),
        SensorKind(name: "pressure", unit: "Pa", mean: 101_325, step: 5, range: 87_000...108_500, decimals: 0),
        SensorKind(name: "battery", unit: "%", mean: 95, step: 0.01, range: 0...100, decimals: 2),
    ]
}

/// The readings of one device: each sensor a bounded random walk, with a slow pull back to
/// its mean so hours of drift stay plausible (an Ornstein–Uhlenbeck-like walk).
public struct SensorState: Sendable {
    /// Current reading per sensor, in `SensorKind.standard` order.
    public private(set) var values: [Double]
    let kinds: [SensorKind]

    /// Starts each sensor near its mean, so devices do not all report the same number.
    public init(kinds: [SensorKind] = SensorKind.standard, using random: inout some RandomNumberGenerator) {
        self.kinds = kinds
        self.values = kinds.map { kind in
            let spread = kind.step * 20
            return min(
                max(kind.mean + Double.random(in: -spread...spread, using: &random), kind.range.lowerBound),
                kind.range.upperBound)
        }
    }

    /// Moves every sensor one step.
    public mutating func advance(using random: inout some RandomNumberGenerator) {
        for index in values.indices {
            let kind = kinds[index]
            let pull = (kind.mean - values[index]) * 0.001
            let next = values[index] + pull + Double.random(in: -kind.step...kind.step, using: &random)
            values[index] = min(max(next, kind.range.lowerBound), kind.range.upperBound)
        }
    }
}
