import FleetAuth
import FleetCore
import Foundation
import Ingest
import Logging
import Provisioning

/// Service configurations for in-process tests: loopback, port 0 (the OS picks), a test database.
public enum TestConfigurations {
    /// A fixed test key-encryption key (32 bytes of 0x2a); never used outside tests.
    public static let keyEncryptionKey = Data(repeating: 42, count: 32).base64EncodedString()

    /// The services' log level in tests: critical, or `FLEETGATE_TEST_LOG_LEVEL` (say `debug`, to
    /// see which service of an application does not stop).
    public static let logLevel =
        ProcessInfo.processInfo.environment["FLEETGATE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        ?? .critical

    public static func provisioning(databaseURL: String) -> ProvisioningConfiguration {
        var c = ProvisioningConfiguration()
        c.host = "127.0.0.1"
        c.port = 0
        c.databaseURL = databaseURL
        c.keyEncryptionKey = keyEncryptionKey
        c.bcryptCost = 4  // the minimum: tests check behaviour, not bcrypt's cost
        c.databaseMaxConnections = 4  // many apps run at once in a test run; PostgreSQL allows 500
        c.databaseMinConnections = 0  // likewise: connections on demand (PoolMinimumTests checks the default)
        c.logLevel = logLevel
        c.runMigrations = false  // TestDatabase.create() migrated already
        return c
    }

    public static func ingest(databaseURL: String, jwksURL: String?) -> IngestConfiguration {
        var c = IngestConfiguration()
        c.host = "127.0.0.1"
        c.port = 0
        c.databaseURL = databaseURL
        c.jwksURL = jwksURL
        c.logLevel = logLevel
        c.runMigrations = false
        c.revocationReloadSeconds = 5
        c.writerConnections = 2
        c.databaseMaxConnections = 6
        c.databaseMinConnections = 0
        return c
    }
}
