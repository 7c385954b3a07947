import Configuration
import FleetCore
import FleetHTTP
import Ingest
import Testing

@Suite("Ingest settings: defaults, ranges and combinations refused at start")
struct IngestConfigurationTests {
    /// A configuration from these settings alone, with the JWKS source every start needs.
    func load(_ values: [AbsoluteConfigKey: ConfigValue]) throws -> IngestConfiguration {
        var all: [AbsoluteConfigKey: ConfigValue] = ["jwks.file": "/etc/fleetgate/jwks.json"]
        all.merge(values) { _, new in new }
        return try IngestConfiguration.load(SettingsReader(ConfigReader(provider: InMemoryProvider(values: all))))
    }

    func refusal(_ values: [AbsoluteConfigKey: ConfigValue]) -> String? {
        do {
            _ = try load(values)
            return nil
        } catch {
            return (error as? FleetError)?.detail ?? "\(error)"
        }
    }

    @Test("the defaults load and match IngestConfiguration()")
    func defaults() throws {
        let loaded = try load([:])
        #expect(loaded.limits.maxRecords == IngestConfiguration().limits.maxRecords)
        #expect(loaded.writerMaxQueuedRows == IngestConfiguration().writerMaxQueuedRows)
        #expect(loaded.writerConnections == IngestConfiguration().writerConnections)
        #expect(loaded.minConnections == loaded.writerConnections + 1)
        #expect(try load(["writer.connections": 6, "database.maxConnections": 10]).minConnections == 7)
        #expect(try load(["database.minConnections": 0]).minConnections == 0)
    }

    @Test("a pack limit above the writer queue is refused (it could never be queued)")
    func packLargerThanQueue() {
        #expect(
            refusal(["senml.maxRecords": 50_000, "writer.maxQueuedRows": 20_000])
                == "setting writer.maxQueuedRows must be at least senml.maxRecords")
        #expect(refusal(["senml.maxRecords": 20_000, "writer.maxQueuedRows": 20_000]) == nil)
    }

    @Test("writer connections must leave room in the pool; TLS certificate and key go together")
    func combinations() {
        #expect(refusal(["writer.connections": 8, "database.maxConnections": 9]) != nil)
        #expect(refusal(["tls.certificatePath": "/tmp/cert.pem"]) != nil)
        #expect(refusal(["senml.maxRecords": 0]) != nil)
        #expect(
            refusal(["database.minConnections": 13])
                == "setting database.minConnections must not exceed database.maxConnections")
    }
}

@Suite("Command-line settings: a flag that names no setting is refused")
struct UnknownFlagTests {
    func check(_ arguments: [String]) async throws -> String? {
        let reader = SettingsReader(
            try await ConfigLoader.reader(
                arguments: arguments + ["--jwks-file", "/x.json"], environment: [:], defaultFile: nil))
        _ = try IngestConfiguration.load(reader)
        do {
            try reader.refuseUnknownFlags(in: arguments)
            return nil
        } catch {
            return error.detail
        }
    }

    @Test("a misspelt flag fails with a hint; the flags of the README's table pass")
    func flags() async throws {
        #expect(
            try await check(["--http-prot", "9000"])
                == "unknown setting --http-prot (did you mean --http-port?); the README's configuration table lists them"
        )
        #expect(try await check(["--no-such-thing", "1"])?.hasPrefix("unknown setting --no-such-thing;") == true)
        #expect(
            try await check([
                "--http-port", "9000", "--http-idle-timeout-seconds", "30", "--database-max-connections", "20",
                "--writer-connections", "4", "--rate-per-device", "0", "--log-level=debug",
            ]) == nil)
    }

    @Test("a key's flag is its dotted camelCase name in dashes")
    func flagNames() {
        #expect(SettingsReader.flag(for: "http.idleTimeoutSeconds") == "--http-idle-timeout-seconds")
        #expect(SettingsReader.flag(for: "token.cacheEntries") == "--token-cache-entries")
        #expect(SettingsReader.flag(for: "log.level") == "--log-level")
    }
}
