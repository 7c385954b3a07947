import AsyncHTTPClient
import CoreMetrics
import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// Builds the ingest application: PostgreSQL client, partition maintenance, JWKS source,
/// revocation feed, group-commit writer, last-seen recorder, then the HTTP server; graceful
/// shutdown runs in reverse (the server stops accepting, the writer drains and commits).
public func buildIngestApplication(
    configuration: IngestConfiguration,
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    clock: any WallClock = SystemWallClock(),
    logger: Logger? = nil
) throws -> some ApplicationProtocol {
    let logger: Logger = {
        var logger = logger ?? Logger(label: "fleetgate.ingest")
        logger.logLevel = configuration.logLevel
        return logger
    }()
    if let url = configuration.jwksURL, JWKSSource.isExposed(url: url) {
        logger.warning(
            "jwks.url is plain http to another machine: anyone on the path could replace the keys tokens are verified with; use https",
            metadata: ["jwks.url": "\(url)"])
    }
    let factory = PrometheusMetricsFactory.fleetgate(registry: registry)
    let metrics = IngestMetrics(factory: factory)
    let client = PostgresClient(
        configuration: try DatabaseURL.configuration(
            configuration.databaseURL, maxConnections: configuration.databaseMaxConnections,
            minConnections: configuration.minConnections),
        backgroundLogger: logger
    )
    let tokenCache = VerifiedTokenCache(capacity: configuration.tokenCacheEntries)
    let jwks = JWKSSource(
        url: configuration.jwksURL, file: configuration.jwksFile,
        refreshInterval: .seconds(configuration.jwksRefreshSeconds),
        unknownKidInterval: .seconds(configuration.jwksUnknownKidIntervalSeconds), logger: logger,
        onRefresh: { ok in (ok ? metrics.jwksRefreshOK : metrics.jwksRefreshFailed).increment() },
        onKeysRemoved: { _ in tokenCache.removeAll() }
    )
    let revocations = RevocationView()
    let feed = RevocationFeed(
        client: client, view: revocations, reloadInterval: .seconds(configuration.revocationReloadSeconds),
        logger: logger,
        onApplied: { metrics.revocationsApplied.increment() }
    )
    let writer = PostgresTelemetryWriter(
        client: client,
        configuration: .init(
            connections: configuration.writerConnections, rowBudget: configuration.writerRowBudget,
            maxQueuedRows: configuration.writerMaxQueuedRows,
            transactionTimeout: .seconds(configuration.writerTransactionTimeoutSeconds),
            leaseTimeout: .seconds(configuration.databaseLeaseTimeoutSeconds)
        ),
        metrics: WriterMetrics(factory: factory), logger: logger
    )
    let lastSeen = LastSeenRecorder(client: client, logger: logger)
    let partitions = PartitionMaintainer(client: client, retentionDays: configuration.retentionDays, logger: logger)
    let idempotencyCleaner = IdempotencyKeyCleaner(client: client, logger: logger)
    let ingest = TelemetryIngest(
        authenticator: DeviceAuthenticator(
            verifier: TokenVerifier(
                rules: VerificationRules(issuer: configuration.issuer, audience: configuration.audience)),
            cache: tokenCache,
            jwks: jwks, revocations: revocations, clock: clock, metrics: metrics
        ),
        rateLimiter: DeviceRateLimiter(rate: configuration.ratePerDevice, burst: configuration.rateBurst),
        bodyReader: BodyReader(
            compressedLimit: configuration.maxCompressedBytes, inflatedLimit: configuration.maxInflatedBytes),
        resolver: SenMLResolver(limits: configuration.limits),
        writer: writer, lastSeen: lastSeen, clock: clock, inFlight: InFlightLimit(limit: configuration.maxInFlight),
        metrics: metrics
    )
    let serverName = "fleetgate-ingest"
    let fastPath = FastPathShared(
        requestMetrics: RequestMetricsCache(), date: HTTPDate(), serverName: serverName, logger: logger)
    let telemetryFastPath = TelemetryFastPath(ingest: ingest)

    let translateError: ProblemMiddleware<BasicRequestContext>.Translate = DatabaseUnavailable.fleetError(for:)
    let router = ServiceRouter.make(registry: registry, translateError: translateError) {
        // Bounded: a probe that hangs while PostgreSQL is away would read as "alive" to nothing.
        let database =
            await firstWithin(.seconds(2)) { (try? await client.query("SELECT 1", logger: logger)) != nil } ?? false
        return ["database": database, "keys": jwks.isLoaded]
    }
    router.add(middleware: RejectionMetricsMiddleware(metrics: metrics, translate: translateError))
    TelemetryRoute(ingest: ingest).register(on: router)
    ServiceRouter.finish(router)

    var app = Application(
        router: router,
        server: try ServerBuilder.make(
            certificatePath: configuration.tlsCertificatePath, keyPath: configuration.tlsKeyPath,
            idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)),
            handlers: { [FastPathHandler(route: telemetryFastPath, shared: fastPath)] }),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: serverName),
        services: [
            DatabaseClientService(client, logger: logger), jwks, feed, partitions, idempotencyCleaner, lastSeen, writer,
        ],
        logger: logger
    )
    let runMigrations = configuration.runMigrations
    app.beforeServerStarts {
        if runMigrations { try await Migrator(client: client, logger: logger).migrate() }
        try await partitions.maintain(now: clock.now())
        try await feed.reload()
        // Not fatal: provisioning may start after ingest; /readyz says not ready until keys arrive.
        if await !jwks.refresh() { logger.warning("no JWKS yet; retrying every second") }
    }
    return app
}
