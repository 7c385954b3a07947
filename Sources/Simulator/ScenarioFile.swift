import Foundation

/// A scenario in simulator/: JSON naming what it proves and the run options it sets.
/// Options given on the command line win over the file.
public struct ScenarioFile: Sendable, Equatable, Codable {
    public var name: String?
    /// What the scenario proves, in a sentence or two.
    public var proves: String?
    public var devices: Int?
    /// Total requests per second.
    public var rate: Double?
    public var ratePerDevice: Double?
    public var recordsPerBatch: Int?
    /// Seconds.
    public var duration: Double?
    public var rampUp: Double?
    public var connections: Int?
    public var maxInFlight: Int?
    public var encoding: BodyEncoding?
    public var requestTimeout: Double?
    public var maxAttempts: Int?
    public var drainTimeout: Double?
    public var corruptFraction: Double?
    public var clockSkewFraction: Double?
    public var clockSkew: Double?
    public var revokeFraction: Double?
    public var revokeAfter: Double?
    public var verify: Bool?

    enum CodingKeys: String, CodingKey {
        case name, proves, devices, rate, encoding, connections, duration, verify
        case ratePerDevice = "rate_per_device"
        case recordsPerBatch = "records_per_batch"
        case rampUp = "ramp_up"
        case maxInFlight = "max_in_flight"
        case requestTimeout = "request_timeout"
        case maxAttempts = "max_attempts"
        case drainTimeout = "drain_timeout"
        case corruptFraction = "corrupt_fraction"
        case clockSkewFraction = "clock_skew_fraction"
        case clockSkew = "clock_skew"
        case revokeFraction = "revoke_fraction"
        case revokeAfter = "revoke_after"
    }

    /// Reads and decodes a scenario file, naming the file when it is not valid.
    public static func read(from path: String) throws(SimulatorError) -> ScenarioFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SimulatorError("cannot read scenario \(path)")
        }
        do {
            return try JSONDecoder().decode(ScenarioFile.self, from: data)
        } catch {
            throw SimulatorError("scenario \(path) is not valid: \(error)")
        }
    }

    /// Sets every option the scenario names.
    public func apply(to options: inout SimulationOptions) {
        if let devices { options.devices = devices }
        if let rate { options.rate = .total(rate) }
        if let ratePerDevice { options.rate = .perDevice(ratePerDevice) }
        if let recordsPerBatch { options.recordsPerBatch = recordsPerBatch }
        if let duration { options.duration = .seconds(double: duration) }
        if let rampUp { options.rampUp = .seconds(double: rampUp) }
        if let connections { options.connections = connections }
        if let maxInFlight { options.maxInFlight = maxInFlight }
        if let encoding { options.encoding = encoding }
        if let requestTimeout { options.requestTimeout = .seconds(double: requestTimeout) }
        if let maxAttempts { options.backoff.maxAttempts = maxAttempts }
        if let drainTimeout { options.drainTimeout = .seconds(double: drainTimeout) }
        if let corruptFraction { options.corruptFraction = corruptFraction }
        if let clockSkewFraction { options.clockSkewFraction = clockSkewFraction }
        if let clockSkew { options.clockSkew = .seconds(double: clockSkew) }
        if let revokeFraction { options.revokeFraction = revokeFraction }
        if let revokeAfter { options.revokeAfter = .seconds(double: revokeAfter) }
    }
}
