import AsyncHTTPClient
import CompressNIO
import FleetNIO
import Foundation
import Histogram
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// What a run produced: the report, the ledger to verify, and the devices' newest credentials.
public struct SimulationResult: Sendable {
    public var report: SimulationReport
    public var ledger: Ledger
    /// Credentials with rotated refresh tokens (already written back to `credentialsFile`, during the run too).
    public var credentials: [DeviceCredential]
}

/// Runs a simulation: resolves a fleet (given, from the credentials file, or enrolled), gets
/// every device a token, drives the open-loop schedule for `duration`, waits for outstanding
/// requests, and reports. Writes back rotated refresh tokens as they rotate (`CredentialsSaver`)
/// and, if asked, the ledger.
public func runSimulation(_ options: SimulationOptions, logger: Logger) async throws -> SimulationResult {
    try options.validate()
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool = .init(
        idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: options.connections)
    configuration.httpVersion = .http1Only
    configuration.decompression = .disabled
    configuration.timeout = .init(connect: .seconds(5))
    let http = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration, backgroundActivityLogger: logger
    )
    // Plain-HTTP ingest gets its own keep-alive connections on one event loop; https stays
    // with AsyncHTTPClient.
    let telemetryPool = PlainHTTPEndpoint(options.ingestURL).map { endpoint in
        TelemetryConnectionPool(
            endpoint: endpoint, encoding: options.encoding, maxConnections: options.connections,
            requestTimeout: options.requestTimeout, eventLoop: MultiThreadedEventLoopGroup.singleton.next()
        )
    }
    do {
        let result = try await Simulation(options: options, http: http, telemetryPool: telemetryPool, logger: logger)
            .run()
        await telemetryPool?.shutdown()
        try await http.shutdown()
        return result
    } catch {
        await telemetryPool?.shutdown()
        try? await http.shutdown()
        throw error
    }
}

/// One run's moving parts. Request tasks share `statistics`, `tokens` and `revocations`; the
/// generator alone owns the devices' sensor state, so building a body takes no lock.
struct Simulation: Sendable {
    let options: SimulationOptions
    let client: FleetgateClient
    let logger: Logger
    let statistics = RunStatistics()
    let seed: UInt64

    init(options: SimulationOptions, http: HTTPClient, telemetryPool: TelemetryConnectionPool?, logger: Logger) {
        self.options = options
        self.client = FleetgateClient(
            http: http, provisioningURL: options.provisioningURL, ingestURL: options.ingestURL,
            requestTimeout: options.requestTimeout, telemetryPool: telemetryPool
        )
        self.logger = logger
        var system = SystemRandomNumberGenerator()
        self.seed = options.seed ?? system.next()
    }

    func run() async throws -> SimulationResult {
        let credentials = try await resolveCredentials()
        let clock = ContinuousClock()
        let tokens = TokenKeeper(credentials: credentials, policy: options.tokenRefresh, now: clock.now, seed: seed)
        await tokens.refreshDue(using: client, statistics: statistics, concurrency: 64)
        // Every token used has just rotated: on disk now, not only at the end of a run that may be killed.
        let saver = credentialsSaver()
        let saved = saver?.save(tokens)
        let holding = tokens.devicesWithToken
        if holding < credentials.count {
            logger.warning("some devices got no token", metadata: ["without_token": "\(credentials.count - holding)"])
        }
        if holding == 0 {
            let failures = statistics.withState { SimulationReport.counts($0.tokenRefreshFailures) }
            throw SimulatorError(
                "no device could get an access token from \(options.provisioningURL)/v1/token: \(failures)")
        }

        let revocations = Revocations(devices: credentials.count)
        let inFlight = InFlightCounter()
        let schedule = OpenLoopSchedule(rate: options.rate.total(devices: credentials.count), rampUp: options.rampUp)
        let start = clock.now + .milliseconds(10)
        let drainDeadline = start + options.duration + options.drainTimeout

        await withTaskGroup(of: Void.self) { services in
            services.addTask { await tokens.keepFresh(using: client, statistics: statistics) }
            if let saver { services.addTask { await saver.keepSaved(tokens, saved: saved) } }
            services.addTask {
                await ProgressReporter(mode: options.progress, statistics: statistics, inFlight: { inFlight.current })
                    .run(start: start)
            }
            if options.revokeFraction > 0 {
                services.addTask {
                    await revokeDevices(
                        credentials: credentials, revocations: revocations, at: start + options.revokeAfter)
                }
            }
            // The generator and its request tasks run on the telemetry pool's event loop, next to
            // the connections (nil: the global executor, as before).
            await withTaskExecutorPreference(client.telemetryPool.map { EventLoopTaskExecutor($0.eventLoop) }) {
                await generate(
                    credentials: credentials, schedule: schedule, start: start, drainDeadline: drainDeadline,
                    tokens: tokens, revocations: revocations, inFlight: inFlight
                )
            }
            services.cancelAll()
        }
        let end = clock.now

        let finalCredentials = tokens.credentials
        saver?.save(tokens)
        let (report, ledger) = makeReport(
            devices: credentials.count, rate: schedule.rate, elapsed: end - start, revocations: revocations)
        if let path = options.ledgerFile { try LedgerFile.write(ledger, to: path) }
        return SimulationResult(report: report, ledger: ledger, credentials: finalCredentials)
    }

    // MARK: Fleet

    private func resolveCredentials() async throws -> [DeviceCredential] {
        var credentials: [DeviceCredential]
        if let given = options.credentials {
            credentials = given
        } else if let path = options.credentialsFile, FileManager.default.fileExists(atPath: path) {
            credentials = try CredentialsFile.read(from: path)
        } else if let operatorLogin = options.operatorLogin {
            var enrollment = EnrollmentOptions(operatorLogin: operatorLogin, devices: options.devices)
            enrollment.provisioningURL = options.provisioningURL
            enrollment.fleet = options.fleet
            enrollment.idPrefix = options.idPrefix
            credentials = try await enrollDevices(enrollment, client: client, logger: logger)
            if let path = options.credentialsFile { try CredentialsFile.write(credentials, to: path) }
        } else {
            throw SimulatorError(
                "no devices: give --credentials FILE, or --admin-user and a password to enroll a fleet")
        }
        guard credentials.count >= options.devices else {
            throw SimulatorError("--devices \(options.devices) but only \(credentials.count) credentials are available")
        }
        if credentials.count > options.devices {
            // Only the devices used get their refresh tokens rotated; the rest are written back unchanged.
            credentials = Array(credentials.prefix(options.devices))
        }
        return credentials
    }

    /// Where rotated refresh tokens are written back (nil: credentials given in memory, or no file).
    private func credentialsSaver() -> CredentialsSaver? {
        guard options.credentials == nil, let path = options.credentialsFile else { return nil }
        return CredentialsSaver(path: path, logger: logger)
    }

    // MARK: Chaos

    private func revokeDevices(
        credentials: [DeviceCredential], revocations: Revocations, at instant: ContinuousClock.Instant
    ) async {
        guard let operatorLogin = options.operatorLogin else { return }
        do { try await Task.sleep(until: instant, clock: .continuous) } catch { return }
        let operatorToken: String
        do {
            operatorToken = try await client.login(operatorLogin)
        } catch {
            logger.error("chaos: operator login failed, no device revoked", metadata: ["error": "\(error)"])
            return
        }
        for index in credentials.indices where Self.isRevocationCandidate(index, fraction: options.revokeFraction) {
            do {
                try await client.revoke(id: credentials[index].id, operatorToken: operatorToken)
                revocations.markRevoked(index, at: ContinuousClock.now)
            } catch {
                logger.error(
                    "chaos: revoke failed", metadata: ["device_id": "\(credentials[index].id)", "error": "\(error)"])
            }
        }
    }

    // MARK: Report

    private func makeReport(devices: Int, rate: Double, elapsed: Duration, revocations: Revocations) -> (
        SimulationReport, Ledger
    ) {
        statistics.withState { state in
            let seconds = max(elapsed.seconds, 0.001)
            func millis(_ percentile: Double) -> Double {
                state.latency.totalCount == 0 ? 0 : Double(state.latency.valueAtPercentile(percentile)) / 1000
            }
            var violations: [String] = []
            if state.duplicateOnFirstAttempt > 0 {
                violations.append(
                    "\(state.duplicateOnFirstAttempt) first attempts were answered duplicate: an Idempotency-Key was reused"
                )
            }
            if state.corruptAccepted > 0 { violations.append("\(state.corruptAccepted) corrupt bodies were accepted") }
            if state.acceptedAfterRevocation > 0 {
                violations.append(
                    "\(state.acceptedAfterRevocation) posts of revoked devices were accepted more than 1 s after revocation"
                )
            }
            if state.unexpectedFailures > 0 {
                violations.append(
                    "\(state.unexpectedFailures) batches failed (not chaos): backpressure must end in retries, not failures"
                )
            }
            let report = SimulationReport(
                devices: devices,
                targetRate: rate,
                elapsedSeconds: seconds,
                scheduled: state.scheduled,
                skipped: state.skipped,
                attempts: state.attempts,
                retries: state.retries,
                acknowledgedBatches: state.acknowledgedBatches,
                acknowledgedRecords: state.acknowledgedRecords,
                duplicateOnRetry: state.duplicateOnRetry,
                duplicateOnFirstAttempt: state.duplicateOnFirstAttempt,
                failedBatches: state.failedBatches,
                inDoubtBatches: state.inDoubtBatches,
                recordsPerSecond: Double(state.acknowledgedRecords) / seconds,
                requestsPerSecond: Double(state.acknowledgedBatches) / seconds,
                latencyMillis: .init(
                    count: Int(state.latency.totalCount),
                    p50: millis(50), p90: millis(90), p99: millis(99), p999: millis(99.9),
                    max: Double(state.latency.max) / 1000
                ),
                answersByStatus: state.answersByStatus,
                errorsByCode: state.errorsByCode,
                tokenRefreshes: state.tokenRefreshes,
                tokenRefreshFailures: state.tokenRefreshFailures,
                chaos: .init(
                    corruptSent: state.corruptSent,
                    corruptAccepted: state.corruptAccepted,
                    revokedDevices: revocations.count,
                    acceptedAfterRevocation: state.acceptedAfterRevocation
                ),
                violations: violations,
                verification: nil
            )
            return (report, Ledger(sensorNames: SensorKind.standard.map(\.name), batches: state.ledger))
        }
    }
}

/// Which devices a chaos run revoked, and when.
final class Revocations: Sendable {
    private let revokedAt: Mutex<[ContinuousClock.Instant?]>

    init(devices: Int) {
        revokedAt = Mutex(Array(repeating: nil, count: devices))
    }

    func markRevoked(_ index: Int, at instant: ContinuousClock.Instant) {
        revokedAt.withLock { $0[index] = instant }
    }

    func revokedAt(_ index: Int) -> ContinuousClock.Instant? {
        revokedAt.withLock { $0[index] }
    }

    var count: Int { revokedAt.withLock { $0.lazy.filter { $0 != nil }.count } }
}
