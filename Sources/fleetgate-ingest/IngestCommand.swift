import ArgumentParser
import FleetHTTP
import FleetStore
import Foundation
import Hummingbird
import Ingest
import Logging
import Metrics
import Prometheus

@main
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetgate-ingest",
        abstract: "Fleetgate data plane: verifies device tokens and commits SenML telemetry to PostgreSQL.",
        discussion: "Settings: --flag value > FLEETGATE_* environment > config/ingest.json > default (README).",
        subcommands: [Serve.self, Migrate.self],
        defaultSubcommand: Serve.self
    )
}

func loadConfiguration(_ settings: [String]) async throws -> IngestConfiguration {
    let reader = try await ConfigLoader.reader(arguments: settings, defaultFile: "config/ingest.json")
    let settingsReader = SettingsReader(reader)
    let configuration = try IngestConfiguration.load(settingsReader)
    try settingsReader.refuseUnknownFlags(in: settings)
    return configuration
}

func bootstrapLogging(_ level: Logger.Level) -> Logger {
    LoggingBootstrap.bootstrap(label: "fleetgate.ingest", level: level)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the ingest HTTP service (default).")

    @Argument(parsing: .allUnrecognized, help: "Settings as --key value, e.g. --http-port 8080.")
    var settings: [String] = []

    func run() async throws {
        let configuration = try await loadConfiguration(settings)
        let logger = bootstrapLogging(configuration.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory.fleetgate(registry: registry))
        let app = try buildIngestApplication(configuration: configuration, registry: registry, logger: logger)
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
