import FleetCore
import FleetHTTP
import Foundation
import Logging

/// Everything the ingest service is told at start. Read once; a bad value fails at start.
public struct IngestConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Seconds a connection may stay silent (between requests, or within one) before it is closed.
    public var idleTimeoutSeconds = 75
    /// Most `POST /v1/telemetry` requests handled at once; beyond it posts are answered 503
    /// `overloaded` at once instead of queueing until latency explodes (a debug-build overload run
    /// without it climbed to 100 s per request and never answered 503 or 429).
    public var maxInFlight = 4096
    public var databaseURL = "postgres://fleetgate@127.0.0.1:54329/fleetgate?sslmode=disable"
    public var databaseMaxConnections = 12
    /// Connections the pool keeps open; nil: the writer's and the revocation feed's
    /// (`writer.connections` + 1), so a transaction parks no connection with timers to cancel.
    public var databaseMinConnections: Int?
    /// Longest a writer transaction waits for a connection before its posts are answered 503.
    public var databaseLeaseTimeoutSeconds = 5
    public var issuer = "fleetgate"
    public var audience = "fleetgate-ingest"
    /// Where the provisioning service publishes its keys.
    public var jwksURL: String? = "http://127.0.0.1:8081/.well-known/jwks.json"
    /// A JWKS file, instead of (or as well as) the URL.
    public var jwksFile: String?
    public var jwksRefreshSeconds = 300
    /// At most one refresh for an unknown kid per this many seconds (API.md: 10 s).
    public var jwksUnknownKidIntervalSeconds = 10
    public var tokenCacheEntries = 100_000
    public var maxCompressedBytes = 1 << 20
    public var maxInflatedBytes = 16 << 20
    public var limits = SenMLLimits()
    /// Sustained posts per second per device, and the burst above it.
    public var ratePerDevice = 50
    public var rateBurst = 100
    public var writerConnections = 4
    public var writerRowBudget = 20_000
    public var writerMaxQueuedRows = 200_000
    /// A writer transaction not done by then is abandoned and its requests answered 503.
    public var writerTransactionTimeoutSeconds = 30
    public var retentionDays = 30
    public var revocationReloadSeconds = 5
    public var logLevel = Logger.Level.info
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var runMigrations = true

    public init() {}

    /// Reads every setting; see the README's configuration table.
    public static func load(_ settings: SettingsReader) throws -> IngestConfiguration {
        var c = IngestConfiguration()
        c.host = settings.string("http.host", default: c.host)
        c.port = try settings.int("http.port", default: c.port, range: 0...65535)
        c.idleTimeoutSeconds = try settings.int(
            "http.idleTimeoutSeconds", default: c.idleTimeoutSeconds, range: 1...86_400)
        c.maxInFlight = try settings.int("http.maxInFlight", default: c.maxInFlight, range: 1...1_000_000)
        c.databaseURL = settings.string("database.url", default: c.databaseURL, secret: true)
        c.databaseMaxConnections = try settings.int(
            "database.maxConnections", default: c.databaseMaxConnections, range: 4...500)
        c.databaseLeaseTimeoutSeconds = try settings.int(
            "database.leaseTimeoutSeconds", default: c.databaseLeaseTimeoutSeconds, range: 1...300)
        c.issuer = settings.string("token.issuer", default: c.issuer)
        c.jwksURL = settings.optionalString("jwks.url") ?? c.jwksURL
        c.jwksFile = settings.optionalString("jwks.file")
        if c.jwksFile != nil && settings.optionalString("jwks.url") == nil { c.jwksURL = nil }
        c.jwksRefreshSeconds = try settings.int(
            "jwks.refreshSeconds", default: c.jwksRefreshSeconds, range: 10...86_400)
        c.tokenCacheEntries = try settings.int(
            "token.cacheEntries", default: c.tokenCacheEntries, range: 0...10_000_000)
        c.maxCompressedBytes = try settings.int(
            "body.maxCompressedBytes", default: c.maxCompressedBytes, range: 1024...(256 << 20))
        c.maxInflatedBytes = try settings.int(
            "body.maxInflatedBytes", default: c.maxInflatedBytes, range: 1024...(1 << 30))
        c.limits.maxRecords = try settings.int("senml.maxRecords", default: c.limits.maxRecords, range: 1...1_000_000)
        c.limits.maxPastSeconds = Double(
            try settings.int("senml.maxPastSeconds", default: Int(c.limits.maxPastSeconds), range: 0...(7 * 86_400))
        )
        c.limits.maxFutureSeconds = Double(
            try settings.int("senml.maxFutureSeconds", default: Int(c.limits.maxFutureSeconds), range: 0...86_400)
        )
        c.ratePerDevice = try settings.int("rate.perDevice", default: c.ratePerDevice, range: 0...1_000_000)
        c.rateBurst = try settings.int("rate.burst", default: c.rateBurst, range: 1...1_000_000)
        c.writerConnections = try settings.int("writer.connections", default: c.writerConnections, range: 1...64)
        c.databaseMinConnections = try settings.int(
            "database.minConnections", default: c.minConnections, range: 0...500)
        c.writerRowBudget = try settings.int("writer.rowBudget", default: c.writerRowBudget, range: 1...1_000_000)
        c.writerMaxQueuedRows = try settings.int(
            "writer.maxQueuedRows", default: c.writerMaxQueuedRows, range: 1...100_000_000)
        c.writerTransactionTimeoutSeconds = try settings.int(
            "writer.transactionTimeoutSeconds", default: c.writerTransactionTimeoutSeconds, range: 1...3600)
        c.retentionDays = try settings.int("retention.days", default: c.retentionDays, range: 8...36_500)
        c.revocationReloadSeconds = try settings.int(
            "revocation.reloadSeconds", default: c.revocationReloadSeconds, range: 1...3600)
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
        guard c.jwksURL != nil || c.jwksFile != nil else {
            throw FleetError(.invalidRequest, "setting jwks.url or jwks.file is required")
        }
        guard c.writerConnections + 2 <= c.databaseMaxConnections else {
            throw FleetError(
                .invalidRequest, "setting database.maxConnections must exceed writer.connections by at least 2")
        }
        guard c.minConnections <= c.databaseMaxConnections else {
            throw FleetError(.invalidRequest, "setting database.minConnections must not exceed database.maxConnections")
        }
        // A pack bigger than the whole queue could never be queued: every such post would answer
        // 503 and a retrying client (the simulator) would retry it for ever.
        guard c.limits.maxRecords <= c.writerMaxQueuedRows else {
            throw FleetError(.invalidRequest, "setting writer.maxQueuedRows must be at least senml.maxRecords")
        }
        return c
    }

    /// `database.minConnections`, or its default.
    public var minConnections: Int { databaseMinConnections ?? writerConnections + 1 }
}
