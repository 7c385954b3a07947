import ArgumentParser
import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import Foundation
import Hummingbird
import HummingbirdBcrypt
import Logging
import Metrics
import Prometheus
import Provisioning

@main
struct ProvisioningCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetgate-provisioning",
        abstract: "Fleetgate control plane: operators, device registry, tokens, signing keys.",
        discussion: "Settings: --flag value > FLEETGATE_* environment > config/provisioning.json > default (README).",
        subcommands: [Serve.self, Migrate.self, CreateOperator.self, RotateKeys.self, ImportKey.self],
        defaultSubcommand: Serve.self
    )
}

/// Reads the service configuration from flags, environment and file.
func loadConfiguration(_ settings: [String]) async throws -> ProvisioningConfiguration {
    let reader = try await ConfigLoader.reader(arguments: settings, defaultFile: "config/provisioning.json")
    let settingsReader = SettingsReader(reader)
    let configuration = try ProvisioningConfiguration.load(settingsReader)
    try settingsReader.refuseUnknownFlags(in: settings)
    return configuration
}

func bootstrapLogging(_ level: Logger.Level) -> Logger {
    LoggingBootstrap.bootstrap(label: "fleetgate.provisioning", level: level)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the provisioning HTTP service (default).")

    @Argument(parsing: .allUnrecognized, help: "Settings as --key value, e.g. --http-port 8081.")
    var settings: [String] = []

    func run() async throws {
        let configuration = try await loadConfiguration(settings)
        let logger = bootstrapLogging(configuration.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory.fleetgate(registry: registry))
        let app = try buildProvisioningApplication(configuration: configuration, registry: registry, logger: logger)
        try await app.runService()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @Argument(parsing: .allUnrecognized) var settings: [String] = []

    func run() async throws {
        let configuration = try await loadConfiguration(settings)
        let logger = bootstrapLogging(configuration.logLevel)
        let applied = try await withDatabase(url: configuration.databaseURL, logger: logger) { client in
            try await Migrator(client: client, logger: logger).migrate()
        }
        print(applied.isEmpty ? "schema is up to date" : "applied migrations \(applied)")
    }
}

struct CreateOperator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-operator",
        abstract:
            "Create an operator. The password comes from FLEETGATE_OPERATOR_PASSWORD or the first line of stdin, never a flag."
    )

    @Option(help: "Username.") var username: String
    @Option(help: "Role: admin, operator or viewer.") var role: String = "operator"
    @Flag(help: "Succeed quietly when the username exists.") var ifMissing = false
    @Argument(parsing: .allUnrecognized) var settings: [String] = []

    func run() async throws {
        let configuration = try await loadConfiguration(settings)
        let logger = bootstrapLogging(configuration.logLevel)
        guard let role = OperatorRole(rawValue: role) else {
            throw ValidationError("role must be admin, operator or viewer")
        }
        let password: String
        if let fromEnv = ProcessInfo.processInfo.environment["FLEETGATE_OPERATOR_PASSWORD"], !fromEnv.isEmpty {
            password = fromEnv
        } else if let line = readLine(strippingNewline: true), !line.isEmpty {
            password = line
        } else {
            throw CommandFailure("no password: set FLEETGATE_OPERATOR_PASSWORD or write it on stdin")
        }
        do {
            try OperatorRules.validate(username: username, password: password)
        } catch {
            throw CommandFailure(error.detail)
        }
        let hash = Bcrypt.hash(password, cost: UInt8(configuration.bcryptCost))
        let username = username
        let created = try await withDatabase(url: configuration.databaseURL, logger: logger) { client in
            try await Migrator(client: client, logger: logger).migrate()
            return try await PostgresOperatorRepository(client: client, logger: logger)
                .create(username: username, passwordHash: hash, role: role.rawValue)
        }
        if created {
            print("operator \(username) created with role \(role.rawValue)")
        } else if ifMissing {
            print("operator \(username) exists; left unchanged")
        } else {
            throw CommandFailure("operator \(username) exists")
        }
    }
}

struct RotateKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-keys",
        abstract: "Make a new signing key current; the old one stays published until its tokens expire."
    )

    @Argument(parsing: .allUnrecognized) var settings: [String] = []

    func run() async throws {
        let configuration = try await loadConfiguration(settings)
        try await install(key: try SigningKey.generate(), configuration: configuration)
    }
}

struct ImportKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-key",
        abstract: "Make an existing RSA private key (PEM, 2048 bits or more) the current signing key."
    )

    @Option(help: "Path of the PEM file (PKCS#1 or PKCS#8).") var pem: String
    @Option(help: "Key id to publish: 1–64 characters of A-Z a-z 0-9 - _, not used before; random when absent.")
    var kid: String?
    @Argument(parsing: .allUnrecognized) var settings: [String] = []

    func validate() throws {
        if let kid, !KeyID.isValid(kid) { throw ValidationError("--kid must be 1–64 characters of A-Z a-z 0-9 - _") }
    }

    func run() async throws {
        let configuration = try await loadConfiguration(settings)
        guard let text = try? String(contentsOfFile: pem, encoding: .utf8) else {
            throw CommandFailure("cannot read \(pem)")
        }
        try await install(key: try SigningKey.importPEM(text, kid: kid ?? KeyID.random()), configuration: configuration)
    }
}

/// Prints success only after the key ring committed it; a refused key (kid in use) throws instead.
func install(key: SigningKey, configuration: ProvisioningConfiguration) async throws {
    let logger = bootstrapLogging(configuration.logLevel)
    try await SigningKeyInstallation.install(key, configuration: configuration, logger: logger)
    print("signing key \(key.kid) is now current")
}

/// A command that could not do its work: printed as `Error: …` with exit status 1, without the
/// usage text ArgumentParser adds to a `ValidationError` (which is for wrong arguments).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
