import CoreMetrics
import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import Foundation
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOPosix
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// Builds the provisioning application: PostgreSQL client, migrations, key ring, routes.
/// `registry` collects the application's metrics for `/metrics`; `clock` is injectable for tests.
public func buildProvisioningApplication(
    configuration: ProvisioningConfiguration,
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    clock: any WallClock = SystemWallClock(),
    logger: Logger? = nil
) throws -> some ApplicationProtocol {
    let logger: Logger = {
        var logger = logger ?? Logger(label: "fleetgate.provisioning")
        logger.logLevel = configuration.logLevel
        return logger
    }()
    let client = PostgresClient(
        configuration: try DatabaseURL.configuration(
            configuration.databaseURL, maxConnections: configuration.databaseMaxConnections,
            minConnections: configuration.databaseMinConnections),
        backgroundLogger: logger
    )
    let encryption = try KeyEncryption(base64: configuration.keyEncryptionKey)
    let leaseTimeout = Duration.seconds(configuration.databaseLeaseTimeoutSeconds)
    let keyRing = KeyRing(
        repository: SigningKeyRepository(
            client: client, encryption: encryption, logger: logger, leaseTimeout: leaseTimeout),
        clock: clock,
        logger: logger)
    let metrics = ProvisioningMetrics(factory: PrometheusMetricsFactory.fleetgate(registry: registry))
    let verifier = TokenVerifier(
        rules: VerificationRules(issuer: configuration.issuer, audience: TokenNames.adminAudience))
    let devices = DeviceRepository(client: client, logger: logger, leaseTimeout: leaseTimeout)
    let issuer = TokenIssuer(
        keyRing: keyRing, issuer: configuration.issuer, deviceLifetime: configuration.deviceTokenLifetime,
        operatorLifetime: configuration.operatorTokenLifetime, clock: clock
    )
    let tokens = TokenRefresh(
        devices: devices, issuer: issuer, metrics: metrics, clock: clock,
        grace: TimeInterval(configuration.refreshGraceSeconds), deviceLifetime: configuration.deviceTokenLifetime)
    let routes = ProvisioningRoutes(
        configuration: configuration,
        operators: PostgresOperatorRepository(client: client, logger: logger, leaseTimeout: leaseTimeout),
        devices: devices,
        telemetry: TelemetryReader(client: client, logger: logger, leaseTimeout: leaseTimeout),
        keyRing: keyRing,
        issuer: issuer,
        tokens: tokens,
        authenticator: OperatorAuthenticator(keyRing: keyRing, verifier: verifier, clock: clock),
        throttle: LoginThrottle(
            maxFailures: configuration.loginMaxFailures, window: TimeInterval(configuration.loginLockoutSeconds)),
        metrics: metrics,
        clock: clock,
        dummyHash: Bcrypt.hash("fleetgate-dummy-password", cost: UInt8(configuration.bcryptCost))
    )

    let router = ServiceRouter.make(registry: registry, translateError: DatabaseUnavailable.fleetError(for:)) {
        // Bounded: a probe that hangs while PostgreSQL is away would read as "alive" to nothing.
        let database =
            await firstWithin(.seconds(2)) { (try? await client.query("SELECT 1", logger: logger)) != nil } ?? false
        return ["database": database, "keys": keyRing.isLoaded]
    }
    router.add(middleware: IdentityEncodingMiddleware())
    routes.register(on: router)
    ServiceRouter.finish(router)

    let serverName = "fleetgate-provisioning"
    let fastPath = FastPathShared(
        requestMetrics: RequestMetricsCache(), date: HTTPDate(), serverName: serverName, logger: logger)
    let tokenFastPath = TokenFastPath(tokens: tokens, keyRing: keyRing, logger: logger)
    var app = Application(
        router: router,
        server: try ServerBuilder.make(
            certificatePath: configuration.tlsCertificatePath, keyPath: configuration.tlsKeyPath,
            idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)),
            handlers: { [FastPathHandler(route: tokenFastPath, shared: fastPath)] }),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: serverName),
        services: [DatabaseClientService(client, logger: logger), TransactionWatchdogService(devices.watchdog)],
        logger: logger
    )
    let runMigrations = configuration.runMigrations
    app.beforeServerStarts {
        if runMigrations { try await Migrator(client: client, logger: logger).migrate() }
        try await keyRing.loadAtStart()
    }
    return app
}
