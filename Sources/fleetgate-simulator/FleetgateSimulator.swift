import ArgumentParser
import Foundation
import Logging
import Simulator

/// `fleetgate-simulator`: enroll a fleet, drive it against the services, verify what was stored.
@main
struct FleetgateSimulator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetgate-simulator",
        abstract: "Enrolls simulated devices, drives them against Fleetgate, and verifies what was stored.",
        subcommands: [Enroll.self, Run.self, Verify.self]
    )
}

/// Where the services are and who the operator is.
struct ServiceOptions: ParsableArguments {
    @Option(help: "Provisioning service base URL.")
    var provisioningURL = "http://127.0.0.1:8081"

    @Option(help: "Operator user for enrolling (and revoking, in chaos runs).")
    var adminUser: String?

    @Option(help: "Operator password; prefer the FLEETGATE_ADMIN_PASSWORD environment variable.")
    var adminPassword: String?

    @Flag(help: "Log at debug level.")
    var verbose = false

    var operatorLogin: SimulationOptions.Operator? {
        guard let adminUser else { return nil }
        guard let password = adminPassword ?? ProcessInfo.processInfo.environment["FLEETGATE_ADMIN_PASSWORD"] else {
            return nil
        }
        return .init(username: adminUser, password: password)
    }

    func logger() -> Logger {
        var logger = Logger(label: "fleetgate-simulator")
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}

extension Duration: @retroactive ExpressibleByArgument {
    public init?(argument: String) {
        guard let duration = parseDuration(argument) else { return nil }
        self = duration
    }
}

extension BodyEncoding: ExpressibleByArgument {}

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bulk-enroll devices and write a credentials file (mode 0600).")

    @OptionGroup var service: ServiceOptions

    @Option(help: "Devices to enroll.")
    var devices = 10

    @Option(help: "Fleet of the new devices.")
    var fleet = "simulated"

    @Option(help: "Device ids are <prefix>-000001, …")
    var idPrefix = "sim"

    @Option(help: "Credentials file to write (NDJSON, mode 0600).")
    var credentials = "credentials.ndjson"

    func run() async throws {
        guard let login = service.operatorLogin else {
            throw ValidationError(
                "enroll needs --admin-user and a password (--admin-password or FLEETGATE_ADMIN_PASSWORD)")
        }
        var options = EnrollmentOptions(operatorLogin: login, devices: devices)
        options.provisioningURL = service.provisioningURL
        options.fleet = fleet
        options.idPrefix = idPrefix
        let enrolled = try await enrollDevices(options, logger: service.logger())
        try CredentialsFile.write(enrolled, to: credentials)
        Terminal.print("enrolled \(enrolled.count) devices into \(credentials)\n")
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Drive a fleet open-loop, report, and optionally verify.")

    @OptionGroup var service: ServiceOptions

    @Option(help: "Ingest service base URL.")
    var ingestURL = "http://127.0.0.1:8080"

    @Option(help: "Scenario file (JSON in simulator/); options given here win over it.")
    var scenario: String?

    @Option(help: "Credentials file to use (and to keep rotated refresh tokens in); enrolls into it when absent.")
    var credentials: String?

    @Option(help: "Devices to drive (default 10).") var devices: Int?
    @Option(help: "Total requests per second.") var rate: Double?
    @Option(help: "Requests per second per device (default 1).") var ratePerDevice: Double?
    @Option(help: "SenML records per post (default 4).") var recordsPerBatch: Int?
    @Option(help: "Run time: 30, 30s, 5m (default 10s).") var duration: Duration?
    @Option(help: "Time to ramp the rate up from 0 (default 0).") var rampUp: Duration?
    @Option(help: "HTTP connections to ingest (default 32).") var connections: Int?
    @Option(help: "Most requests outstanding; due requests beyond it are skipped (default connections × 8).")
    var maxInFlight: Int?
    @Option(help: "deflate, gzip or identity (default deflate).") var encoding: BodyEncoding?
    @Option(help: "Timeout of one attempt (default 10s).") var requestTimeout: Duration?
    @Option(help: "Attempts per batch, the first included (default 8).") var maxAttempts: Int?
    @Option(help: "Chaos: share of posts sent with a corrupt body.") var corruptFraction: Double?
    @Option(help: "Chaos: share of devices whose clock is skewed.") var clockSkewFraction: Double?
    @Option(help: "Chaos: clock skew in seconds, negative for behind.") var clockSkew: Double?
    @Option(help: "Chaos: share of devices revoked mid-run.") var revokeFraction: Double?
    @Option(help: "Chaos: when to revoke (default 5s).") var revokeAfter: Duration?
    @Option(help: "Fleet of devices enrolled by the run.") var fleet = "simulated"
    @Option(help: "Id prefix of devices enrolled by the run.") var idPrefix = "sim"
    @Option(help: "Seed for readings and jitter.") var seed: UInt64?

    @Option(help: "Write the report as JSON to this file.") var report: String?
    @Option(help: "Write the ledger of acknowledged batches to this file.") var ledger: String?
    @Flag(help: "Check PostgreSQL holds exactly the acknowledged records.") var verify = false
    @Option(help: "PostgreSQL for --verify (or FLEETGATE_DATABASE_URL).") var databaseURL: String?
    @Flag(help: "No live progress line.") var quiet = false

    func run() async throws {
        var options = SimulationOptions()
        var verify = self.verify
        if let scenario {
            let file = try ScenarioFile.read(from: scenario)
            file.apply(to: &options)
            if file.verify == true { verify = true }
            if let proves = file.proves { Terminal.print("scenario \(file.name ?? scenario): \(proves)\n") }
        }
        options.provisioningURL = service.provisioningURL
        options.ingestURL = ingestURL
        options.operatorLogin = service.operatorLogin
        options.credentialsFile = credentials
        options.fleet = fleet
        options.idPrefix = idPrefix
        options.seed = seed
        options.ledgerFile = ledger
        options.progress = quiet ? .none : .automatic
        if let devices { options.devices = devices }
        if let rate { options.rate = .total(rate) }
        if let ratePerDevice { options.rate = .perDevice(ratePerDevice) }
        if let recordsPerBatch { options.recordsPerBatch = recordsPerBatch }
        if let duration { options.duration = duration }
        if let rampUp { options.rampUp = rampUp }
        if let connections { options.connections = connections }
        if let maxInFlight { options.maxInFlight = maxInFlight }
        if let encoding { options.encoding = encoding }
        if let requestTimeout { options.requestTimeout = requestTimeout }
        if let maxAttempts { options.backoff.maxAttempts = maxAttempts }
        if let corruptFraction { options.corruptFraction = corruptFraction }
        if let clockSkewFraction { options.clockSkewFraction = clockSkewFraction }
        if let clockSkew { options.clockSkew = .milliseconds(Int64((clockSkew * 1000).rounded())) }
        if let revokeFraction { options.revokeFraction = revokeFraction }
        if let revokeAfter { options.revokeAfter = revokeAfter }

        let databaseURL = (self.databaseURL ?? ProcessInfo.processInfo.environment["FLEETGATE_DATABASE_URL"])
            .flatMap { $0.isEmpty ? nil : $0 }
        if verify {
            // Checked before the run, not after it: a bad URL used to cost the whole run and its report.
            guard let databaseURL else {
                throw ValidationError("--verify needs --database-url or FLEETGATE_DATABASE_URL")
            }
            try validateDatabaseURL(databaseURL)
        }

        let logger = service.logger()
        let result = try await runSimulation(options, logger: logger)
        var finalReport = result.report
        if verify, let databaseURL {
            finalReport.verification = try await verifyLedger(result.ledger, databaseURL: databaseURL, logger: logger)
        }
        Terminal.print(finalReport.renderTable())
        if let report { try finalReport.write(to: report) }
        if !finalReport.passed { throw ExitCode(1) }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a ledger file against PostgreSQL: nothing lost, nothing twice.")

    @Option(help: "Ledger file written by run --ledger.") var ledger: String
    @Option(help: "PostgreSQL URL (or FLEETGATE_DATABASE_URL).") var databaseURL: String?
    @Flag(help: "Log at debug level.") var verbose = false

    func run() async throws {
        guard let databaseURL = databaseURL ?? ProcessInfo.processInfo.environment["FLEETGATE_DATABASE_URL"] else {
            throw ValidationError("verify needs --database-url or FLEETGATE_DATABASE_URL")
        }
        var logger = Logger(label: "fleetgate-simulator")
        logger.logLevel = verbose ? .debug : .warning
        let result = try await verifyLedger(try LedgerFile.read(from: ledger), databaseURL: databaseURL, logger: logger)
        Terminal.print(result.summary + "\n")
        if !result.passed { throw ExitCode(1) }
    }
}
