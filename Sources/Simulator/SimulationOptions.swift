/// How telemetry bodies are encoded (`Content-Encoding`).
public enum BodyEncoding: String, Sendable, Codable, CaseIterable {
    /// zlib stream (RFC 1950), which is what HTTP calls `deflate` (RFC 9110 §8.4.1.2).
    case deflate
    case gzip
    /// No `Content-Encoding` header.
    case identity
}

/// Whether and how progress is shown while a run goes on.
public enum ProgressMode: String, Sendable, Codable {
    /// One line redrawn with \r on a terminal, a plain line every 5 s otherwise.
    case automatic
    /// A plain line every 5 s.
    case lines
    /// Nothing until the report (tests).
    case none
}

/// Everything a run needs; the command line and scenario files fill it in.
public struct SimulationOptions: Sendable, Equatable {
    /// Operator login used to enroll devices and, in chaos runs, to revoke some.
    public struct Operator: Sendable, Equatable {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// Target load: requests per second for the whole fleet, or per device.
    public enum Rate: Sendable, Equatable {
        case total(Double)
        case perDevice(Double)

        /// Total requests per second for `devices` devices.
        public func total(devices: Int) -> Double {
            switch self {
            case .total(let rate): rate
            case .perDevice(let rate): rate * Double(devices)
            }
        }
    }

    public var provisioningURL = "http://127.0.0.1:8081"
    public var ingestURL = "http://127.0.0.1:8080"
    /// Devices to act as. When nil, `credentialsFile` is read if it exists, else a fleet is enrolled.
    public var credentials: [DeviceCredential]?
    /// Where credentials are read from and where rotated refresh tokens are written back.
    public var credentialsFile: String?
    /// Needed to enroll, and to revoke devices (`revokeFraction`).
    public var operatorLogin: Operator?
    /// Fleet and id prefix of devices enrolled by the run.
    public var fleet = "simulated"
    public var idPrefix = "sim"

    public var devices = 10
    public var rate: Rate = .perDevice(1)
    public var recordsPerBatch = 4
    public var duration: Duration = .seconds(10)
    public var rampUp: Duration = .zero
    /// HTTP/1.1 connections to the ingest service.
    public var connections = 32
    /// Requests outstanding at once (retries waiting included); nil means `connections × 8`.
    public var maxInFlight: Int?
    public var encoding: BodyEncoding = .deflate
    /// Time one attempt may take before it counts as a timeout.
    public var requestTimeout: Duration = .seconds(10)
    public var backoff = Backoff()
    public var tokenRefresh = TokenRefreshPolicy()
    /// After `duration`, how long outstanding requests (and their retries) may still take.
    public var drainTimeout: Duration = .seconds(30)

    /// Share of batches sent with a corrupt zlib body, which must be answered `bad_payload`.
    public var corruptFraction = 0.0
    /// Share of devices whose clock is off by `clockSkew`.
    public var clockSkewFraction = 0.0
    /// Offset added to skewed devices' record times (negative: clock behind).
    public var clockSkew: Duration = .zero
    /// Share of devices revoked `revokeAfter` into the run; their posts must then get `token_revoked`.
    public var revokeFraction = 0.0
    public var revokeAfter: Duration = .seconds(5)

    public var progress: ProgressMode = .automatic
    /// Seed for readings and jitter; nil for a random run.
    public var seed: UInt64?
    /// Where the ledger of acknowledged batches is written at the end, if anywhere.
    public var ledgerFile: String?

    public init() {}

    /// The in-flight bound in effect.
    public var effectiveMaxInFlight: Int { maxInFlight ?? max(64, connections * 8) }

    /// Checks ranges, naming the option at fault.
    public func validate() throws(SimulatorError) {
        if devices < 1 { throw SimulatorError("--devices must be at least 1") }
        if rate.total(devices: devices) <= 0 { throw SimulatorError("--rate must be positive") }
        if recordsPerBatch < 1 || recordsPerBatch > 10_000 {
            throw SimulatorError("--records-per-batch must be in 1...10000")
        }
        if duration <= .zero { throw SimulatorError("--duration must be positive") }
        if rampUp < .zero || rampUp > duration { throw SimulatorError("--ramp-up must be between 0 and --duration") }
        if connections < 1 { throw SimulatorError("--connections must be at least 1") }
        for (name, fraction) in [
            ("--corrupt-fraction", corruptFraction), ("--clock-skew-fraction", clockSkewFraction),
            ("--revoke-fraction", revokeFraction),
        ]
        where !(0...1).contains(fraction) {
            throw SimulatorError("\(name) must be between 0 and 1")
        }
        if revokeFraction > 0, operatorLogin == nil {
            throw SimulatorError("--revoke-fraction needs --admin-user and a password")
        }
    }
}

/// Picks an evenly spread share of indices: index `i` is chosen when ⌊i·f + p⌋ ≠ ⌊(i+1)·f + p⌋,
/// which selects a share `f` of them, never two neighbours for f ≤ ½. Different phases `p`
/// pick different indices, so chaos roles (skewed, revoked, corrupt) do not fall on the same
/// devices and hide one another (a revoked device's corrupt body is refused as token_revoked).
public enum EvenSelection {
    public static func isSelected(_ index: Int, fraction: Double, phase: Double = 0) -> Bool {
        guard fraction > 0 else { return false }
        guard fraction < 1 else { return true }
        return (Double(index) * fraction + phase).rounded(.down)
            != (Double(index + 1) * fraction + phase).rounded(.down)
    }

    /// Phases of the chaos roles.
    static let skewPhase = 0.0
    static let revokePhase = 0.5
    static let corruptPhase = 0.25
}
