import FleetCore
import Foundation
import PostgresNIO

/// Parses `postgres://user:password@host:port/database?sslmode=disable|prefer|require` into a
/// PostgresClient configuration. Errors name the problem, never the URL (it may hold a password).
public enum DatabaseURL {
    /// `minConnections`: connections kept open for the hot path (the writer's, the token
    /// exchange's lanes). The pool schedules an idle-timeout timer each time it parks a connection
    /// above the minimum, and a keep-alive timer each time it parks any; each is a task with a
    /// sleep, cancelled at the next lease. Per transaction that put a third of ingest's CPU on
    /// the concurrency pool at one connection (perf). So keep-alive is off: a connection that
    /// PostgreSQL closes is noticed when its socket closes, one dropped silently on its next use.
    public static func configuration(
        _ url: String,
        maxConnections: Int = 20,
        minConnections: Int = 0
    ) throws(FleetError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url),
            components.scheme == "postgres" || components.scheme == "postgresql",
            let user = components.user, !user.isEmpty
        else {
            throw FleetError(
                .invalidRequest, "database.url must look like postgres://user[:password]@host[:port]/database")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let sslmode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw FleetError(.invalidRequest, "database.url has an unknown sslmode")
        }
        var configuration = PostgresClient.Configuration(
            host: components.host ?? "127.0.0.1",
            port: components.port ?? 5432,
            username: user,
            password: components.password?.removingPercentEncoding,
            database: database.isEmpty ? user : database,
            tls: tls
        )
        configuration.options.maximumConnections = maxConnections
        configuration.options.minimumConnections = min(minConnections, maxConnections)
        configuration.options.keepAliveBehavior = nil
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
