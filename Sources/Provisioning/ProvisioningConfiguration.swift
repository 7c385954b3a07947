import CoreMetrics
import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import Foundation
import Logging

/// Everything the provisioning service is told at start. Read once; a bad value fails at start.
public struct ProvisioningConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8081
    /// Seconds a connection may stay silent (between requests, or within one) before it is closed.
    public var idleTimeoutSeconds = 75
    public var databaseURL = "postgres://fleetgate@127.0.0.1:54329/fleetgate?sslmode=disable"
    public var databaseMaxConnections = 10
    /// Connections the pool keeps open: one per refresh-token exchange lane, so an exchange parks
    /// no connection with timers to cancel.
    public var databaseMinConnections = DeviceRepository.exchangeLanes
    /// Longest a request waits for a free database connection before it is answered 503.
    public var databaseLeaseTimeoutSeconds = 5
    /// base64 of 32 bytes; seals private signing keys (AES-256-GCM).
    public var keyEncryptionKey = ""
    public var issuer = "fleetgate"
    public var deviceTokenLifetime = 3600
    public var operatorTokenLifetime = 900
    public var refreshGraceSeconds = 60
    public var bcryptCost = 10
    public var loginMaxFailures = 5
    public var loginLockoutSeconds = 60
    public var bulkMaxBytes = 64 << 20
    public var logLevel = Logger.Level.info
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var runMigrations = true

    public init() {}

    /// A retired signing key stays published this long: every token it signed has expired by then.
    /// That is the longer lifetime, plus 60 s for clock skew between nodes, plus 15 s because another
    /// replica's key ring may sign with the retired key until its next re-read (every 10 s).
    public var retiredKeyPublishSeconds: Int {
        max(deviceTokenLifetime, operatorTokenLifetime) + 60 + Int(KeyRing.defaultRefreshInterval) + 5
    }

    /// Reads every setting; see the README's configuration table.
    public static func load(_ settings: SettingsReader) throws -> ProvisioningConfiguration {
        var c = ProvisioningConfiguration()
        c.host = settings.string("http.host", default: c.host)
        c.port = try settings.int("http.port", default: c.port, range: 0...65535)
        c.idleTimeoutSeconds = try settings.int(
            "http.idleTimeoutSeconds", default: c.idleTimeoutSeconds, range: 1...86_400)
        c.databaseURL = settings.string("database.url", default: c.databaseURL, secret: true)
        c.databaseMaxConnections = try settings.int(
            "database.maxConnections", default: c.databaseMaxConnections, range: 2...500)
        c.databaseMinConnections = try settings.int(
            "database.minConnections", default: c.databaseMinConnections, range: 0...500)
        c.databaseLeaseTimeoutSeconds = try settings.int(
            "database.leaseTimeoutSeconds", default: c.databaseLeaseTimeoutSeconds, range: 1...300)
        let keyFile = settings.optionalString("keys.encryptionKeyFile")
        if let key = settings.optionalString("keys.encryptionKey", secret: true) {
            c.keyEncryptionKey = key
        } else if let file = keyFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw FleetError(.invalidRequest, "setting keys.encryptionKeyFile names a file that cannot be read")
            }
            c.keyEncryptionKey = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            throw FleetError(
                .invalidRequest,
                "setting keys.encryptionKey (FLEETGATE_KEYS_ENCRYPTION_KEY) or keys.encryptionKeyFile is required"
            )
        }
        _ = try KeyEncryption(base64: c.keyEncryptionKey)
        c.issuer = settings.string("token.issuer", default: c.issuer)
        c.deviceTokenLifetime = try settings.int(
            "token.deviceLifetime", default: c.deviceTokenLifetime, range: 60...86_400)
        c.operatorTokenLifetime = try settings.int(
            "token.operatorLifetime", default: c.operatorTokenLifetime, range: 60...86_400)
        c.refreshGraceSeconds = try settings.int(
            "refresh.graceSeconds", default: c.refreshGraceSeconds, range: 0...3600)
        c.bcryptCost = try settings.int("bcrypt.cost", default: c.bcryptCost, range: 4...31)
        c.loginMaxFailures = try settings.int("login.maxFailures", default: c.loginMaxFailures, range: 1...1000)
        c.loginLockoutSeconds = try settings.int(
            "login.lockoutSeconds", default: c.loginLockoutSeconds, range: 1...86_400)
        c.bulkMaxBytes = try settings.int("bulk.maxBytes", default: c.bulkMaxBytes, range: 1024...(1 << 30))
        let level = settings.string("log.level", default: "info")
        guard let parsed = Logger.Level(rawValue: level) else {
            throw FleetError(
                .invalidRequest, "setting log.level must be one of trace, debug, info, notice, warning, error, critical"
            )
        }
        c.logLevel = parsed
        c.tlsCertificatePath = settings.optionalString("tls.certificatePath")
        c.tlsKeyPath = settings.optionalString("tls.keyPath")
        guard (c.tlsCertificatePath == nil) == (c.tlsKeyPath == nil) else {
            throw FleetError(.invalidRequest, "settings tls.certificatePath and tls.keyPath go together")
        }
        guard c.databaseMinConnections <= c.databaseMaxConnections else {
            throw FleetError(.invalidRequest, "setting database.minConnections must not exceed database.maxConnections")
        }
        return c
    }
}
