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
    }
}
