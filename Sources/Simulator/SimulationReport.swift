import Foundation

/// The outcome of a run, for people (`renderTable`) and machines (`--report FILE.json`).
public struct SimulationReport: Sendable, Equatable, Codable {
    /// Latency percentiles in milliseconds, measured from each request's scheduled send time.
    public struct Latency: Sendable, Equatable, Codable {
        public var count: Int
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double

        public init(count: Int, p50: Double, p90: Double, p99: Double, p999: Double, max: Double) {
            self.count = count
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.p999 = p999
            self.max = max
        }

        enum CodingKeys: String, CodingKey {
            case count, p50, p90, p99, max
            case p999 = "p99_9"
        }
    }

    /// Chaos results: what must hold for the chaos scenario to pass.
    public struct Chaos: Sendable, Equatable, Codable {
        /// Batches sent with a deliberately corrupt body.
        public var corruptSent: Int
        /// Corrupt batches the server accepted (must be 0).
        public var corruptAccepted: Int
        /// Devices revoked mid-run.
        public var revokedDevices: Int
        /// Posts of revoked devices sent > 1 s after revocation that were accepted (must be 0).
        public var acceptedAfterRevocation: Int

        public init(
            corruptSent: Int = 0, corruptAccepted: Int = 0, revokedDevices: Int = 0, acceptedAfterRevocation: Int = 0
        ) {
            self.corruptSent = corruptSent
            self.corruptAccepted = corruptAccepted
            self.revokedDevices = revokedDevices
            self.acceptedAfterRevocation = acceptedAfterRevocation
        }
    }

    public var devices: Int
    /// Requests per second the schedule offered once ramped up.
    public var targetRate: Double
    /// Seconds from the first scheduled request to the last answer.
    public var elapsedSeconds: Double
    /// Requests the schedule made due.
    public var scheduled: Int
    /// Due requests not sent because `maxInFlight` were outstanding (the generator fell behind).
    public var skipped: Int
    /// HTTP attempts, retries included.
    public var attempts: Int
    public var retries: Int
    public var acknowledgedBatches: Int
    public var acknowledgedRecords: Int
    /// Batches acknowledged as `duplicate: true` by a retry: stored by an earlier attempt.
    public var duplicateOnRetry: Int
    /// Batches answered `duplicate: true` on their first attempt (must be 0: keys are unique).
    public var duplicateOnFirstAttempt: Int
    /// Batches given up: a non-retryable error, or every attempt used.
    public var failedBatches: Int
    /// Batches whose last attempt timed out or lost its connection: maybe stored.
    public var inDoubtBatches: Int
    /// Acknowledged records per second over `elapsedSeconds`.
    public var recordsPerSecond: Double
    /// Acknowledged batches per second over `elapsedSeconds`.
    public var requestsPerSecond: Double
    public var latencyMillis: Latency
    /// Every attempt's answer by HTTP status ("200", "503") or "timeout" / "connection_error".
    public var answersByStatus: [String: Int]
    /// Every failed attempt by contract code.
    public var errorsByCode: [String: Int]
    public var tokenRefreshes: Int
    public var tokenRefreshFailures: [String: Int]
    public var chaos: Chaos
    /// Rules the run broke; empty when it passed.
    public var violations: [String]
    /// Set when the run was verified against PostgreSQL.
    public var verification: VerificationResult?

    /// Whether the run kept every rule and, if verified, lost and doubled nothing.
    public var passed: Bool { violations.isEmpty && (verification?.passed ?? true) }

    enum CodingKeys: String, CodingKey {
        case devices
        case targetRate = "target_rate"
        case elapsedSeconds = "elapsed_seconds"
        case scheduled, skipped, attempts, retries
        case acknowledgedBatches = "acknowledged_batches"
        case acknowledgedRecords = "acknowledged_records"
        case duplicateOnRetry = "duplicate_on_retry"
        case duplicateOnFirstAttempt = "duplicate_on_first_attempt"
        case failedBatches = "failed_batches"
        case inDoubtBatches = "in_doubt_batches"
        case recordsPerSecond = "records_per_second"
        case requestsPerSecond = "requests_per_second"
        case latencyMillis = "latency_ms"
        case answersByStatus = "answers_by_status"
        case errorsByCode = "errors_by_code"
        case tokenRefreshes = "token_refreshes"
        case tokenRefreshFailures = "token_refresh_failures"
        case chaos, violations, verification
    }
}

extension SimulationReport {
    /// The report as pretty, key-sorted JSON.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Writes `jsonData()` to `path`.
    public func write(to path: String) throws(SimulatorError) {
        do {
            try jsonData().write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SimulatorError("cannot write report \(path)")
        }
    }
}

/// Reads durations as people write them: "30", "30s", "1.5s", "250ms", "5m", "1h".
public func parseDuration(_ text: String) -> Duration? {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
        guard let value = Double(trimmed.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
        return .seconds(double: value * scale)
    }
    guard let value = Double(trimmed), value.isFinite, value >= 0 else { return nil }
    return .seconds(double: value)
}
