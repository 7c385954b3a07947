import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// Checks `ledger` against the `telemetry` table through a running `PostgresClient`: counts the
/// rows per (device, name, time) of the ledger's devices in its time window and compares them
/// with `LedgerVerifier.compare`.
public func verifyLedger(_ ledger: Ledger, client: PostgresClient, logger: Logger) async throws -> VerificationResult {
    guard let range = ledger.timeRange else { return LedgerVerifier.compare(ledger: ledger, stored: [:]) }
    let devices = ledger.deviceIDs
    // One millisecond either side: the server turns "…123" seconds into a double and then into
    // microseconds, which may land a hair before the millisecond it was sent as.
    let from = Date(timeIntervalSince1970: Double(range.lowerBound - 1) / 1000)
    let to = Date(timeIntervalSince1970: Double(range.upperBound + 1) / 1000)
    let rows = try await client.query(
        """
        SELECT device_id, name, round(extract(epoch FROM time) * 1000)::int8, count(*)::int8
        FROM telemetry
        WHERE device_id = ANY(\(devices)) AND time >= \(from) AND time <= \(to)
        GROUP BY 1, 2, 3
        """,
        logger: logger
    )
    var stored: [RecordKey: Int] = [:]
    for try await (device, name, millis, count) in rows.decode((String, String, Int64, Int64).self) {
        stored[RecordKey(deviceID: device, name: name, timeMillis: millis), default: 0] += Int(count)
    }
    return LedgerVerifier.compare(ledger: ledger, stored: stored)
}

/// Checks `ledger` against the database at `databaseURL`
/// (`postgres://user[:password]@host[:port]/database?sslmode=disable|prefer|require`).
public func verifyLedger(_ ledger: Ledger, databaseURL: String, logger: Logger) async throws -> VerificationResult {
    // The first query may lease before run() has started; PostgresNIO warns about that (on its
    // background logger) and then waits, which is fine here, so both its loggers only speak up
    // for errors.
    var queryLogger = logger
    queryLogger.logLevel = max(logger.logLevel, .error)
    let client = PostgresClient(configuration: try postgresConfiguration(databaseURL), backgroundLogger: queryLogger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await verifyLedger(ledger, client: client, logger: queryLogger)
    }
}

/// Throws the error `verifyLedger` would throw for `url`, before a run rather than after it.
public func validateDatabaseURL(_ url: String) throws(SimulatorError) {
    _ = try postgresConfiguration(url)
}

/// Parses a database URL. Errors name the problem, never the URL (it may hold a password).
func postgresConfiguration(_ url: String) throws(SimulatorError) -> PostgresClient.Configuration {
    guard let components = URLComponents(string: url),
        components.scheme == "postgres" || components.scheme == "postgresql",
        let user = components.user, !user.isEmpty
    else {
        throw SimulatorError("--database-url must look like postgres://user[:password]@host[:port]/database")
    }
    let database = String(components.path.drop(while: { $0 == "/" }))
    let tls: PostgresClient.Configuration.TLS
    switch components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
    case "disable": tls = .disable
    case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
    case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
    default: throw SimulatorError("--database-url has an unknown sslmode")
    }
    var configuration = PostgresClient.Configuration(
        host: components.host ?? "127.0.0.1",
        port: components.port ?? 5432,
        username: user,
        password: components.password?.removingPercentEncoding,
        database: database.isEmpty ? user : database,
        tls: tls
    )
    configuration.options.maximumConnections = 2
    configuration.options.connectTimeout = .seconds(5)
    return configuration
}
