import FleetAuth
import FleetCore
import FleetStore
import FleetTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Provisioning
import Testing

/// One live provisioning application on a fresh test database, with an admin, an operator and a
/// viewer account, and helpers for calling the endpoints.
struct ProvisioningHarness: Sendable {
    let databaseURL: String
    let client: any TestClientProtocol
    let clock: FakeClock

    static let password = "correct-horse-battery"

    /// Starts the application (FakeClock at the current time unless given) and runs `body`.
    static func run<T: Sendable>(
        clock: FakeClock = FakeClock(),
        databaseURL: String? = nil,
        logger: Logger? = nil,
        configure: @Sendable (inout ProvisioningConfiguration) -> Void = { _ in },
        _ body: @Sendable (ProvisioningHarness) async throws -> T
    ) async throws -> T {
        let url: String
        if let databaseURL {
            url = databaseURL
        } else {
            url = try await TestDatabase.create()
            for role in OperatorRole.allCases {
                try await Fixtures.createOperator(url: url, username: role.rawValue, password: password, role: role)
            }
        }
        var configuration = TestConfigurations.provisioning(databaseURL: url)
        configure(&configuration)
        let app = try buildProvisioningApplication(configuration: configuration, clock: clock, logger: logger)
        let start = StartWatch("provisioning")
        return try await app.test(.live) { client in
            start.serving()
            return try await body(ProvisioningHarness(databaseURL: url, client: client, clock: clock))
        }
    }

    /// Two applications (replicas) on one fresh database with the three accounts, sharing `clock`;
    /// answers the database's URL.
    @discardableResult
    static func runTwo(
        clock: FakeClock = FakeClock(),
        _ body: @Sendable (ProvisioningHarness, ProvisioningHarness) async throws -> Void
    ) async throws -> String {
        let url = try await TestDatabase.create()
        for role in OperatorRole.allCases {
            try await Fixtures.createOperator(url: url, username: role.rawValue, password: password, role: role)
        }
        try await run(clock: clock, databaseURL: url) { a in
            try await run(clock: clock, databaseURL: url) { b in try await body(a, b) }
        }
        return url
    }

    // MARK: calls

    /// Sends a request; `json` is serialised as the body with `Content-Type: application/json`.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: Any? = nil, body: String? = nil,
        contentType: String? = nil, headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let json {
            buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
            headers[.contentType] = "application/json"
        }
        if let body { buffer = ByteBuffer(string: body) }
        if let contentType { headers[.contentType] = contentType }
        return try await client.execute(uri: uri, method: method, headers: headers, body: buffer)
    }

    /// Logs in (default: the account named for the role) and returns the operator token.
    func login(_ role: OperatorRole = .admin) async throws -> String {
        try await login(username: role.rawValue, password: Self.password)
    }

    func login(username: String, password: String) async throws -> String {
        let response = try await call(.post, "/v1/login", json: ["username": username, "password": password])
        try #require(response.status == .ok, "login of \(username) answered \(response.status)")
        return try #require(try Self.object(response)["access_token"] as? String)
    }

    /// Enrolls one device and returns the answer.
    @discardableResult
    func enroll(_ id: String? = nil, fleet: String? = nil, labels: [String: String]? = nil, token: String)
        async throws -> [String: Any]
    {
        var body: [String: Any] = [:]
        if let id { body["id"] = id }
        if let fleet { body["fleet"] = fleet }
        if let labels { body["labels"] = labels }
        let response = try await call(.post, "/v1/devices", token: token, json: body)
        try #require(
            response.status == .created, "enroll answered \(response.status): \(String(buffer: response.body))")
        return try Self.object(response)
    }

    /// Exchanges a refresh token on `/v1/token` (form-encoded).
    func refresh(_ refreshToken: String) async throws -> TestResponse {
        try await call(
            .post, "/v1/token", body: "grant_type=refresh_token&refresh_token=\(refreshToken)",
            contentType: "application/x-www-form-urlencoded")
    }

    /// The published JWKS.
    func jwks() async throws -> JWKSDocument {
        let response = try await call(.get, "/.well-known/jwks.json")
        try #require(response.status == .ok)
        return try JSONDecoder().decode(JWKSDocument.self, from: Data(response.body.readableBytesView))
    }

    /// The JWKS once `settled` holds for its kids, for a step that needs the key ring's re-read.
    /// The ring waits at most 2 s for that read; on a machine busy with the whole suite the read
    /// can take longer, and the ring then serves the keys it had for another second (by design,
    /// KeyRing.retryAfterFailure), so the clock is moved past that and the JWKS asked again, up to
    /// 5 times. The last answer is returned whether or not it settled, for the caller to check.
    func jwks(settledWhen settled: ([String]) -> Bool) async throws -> JWKSDocument {
        var document = try await jwks()
        for _ in 0..<5 where !settled(document.keys.map(\.kid)) {
            clock.advance(by: 2)
            try await Task.sleep(for: .milliseconds(200))
            document = try await jwks()
        }
        return document
    }

    // MARK: database

    func scalar(_ sql: String) async throws -> Int { try await TestDatabase.scalar(databaseURL, sql) }

    /// The first column of the first row as text.
    func scalarText(_ sql: String) async throws -> String {
        try await withDatabase(url: databaseURL, logger: TestDatabase.logger) { client in
            let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).collect()
            return try rows.first?.decode(String.self) ?? ""
        }
    }

    func execute(_ sql: String) async throws {
        try await withDatabase(url: databaseURL, logger: TestDatabase.logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
        }
    }

    /// Stores telemetry rows directly (a default partition takes any time).
    func insertTelemetry(device: String, rows: [(name: String, time: Double, value: Double)]) async throws {
        try await execute("CREATE TABLE IF NOT EXISTS telemetry_any PARTITION OF telemetry DEFAULT")
        for row in rows {
            try await execute(
                "INSERT INTO telemetry (device_id, time, name, unit, value) VALUES ('\(device)', to_timestamp(\(row.time)), '\(row.name)', 'Cel', \(row.value))"
            )
        }
    }

    // MARK: answers

    static func object(_ response: TestResponse) throws -> [String: Any] {
        try TestStack.object(response.body)
    }

    static func array(_ response: TestResponse) throws -> [[String: Any]] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [[String: Any]])
    }

    static func code(_ response: TestResponse) -> String? { TestStack.code(response) }

    /// The decoded claims of a JWT, unverified.
    static func claims(_ token: String) throws -> [String: Any] {
        let parts = token.split(separator: ".")
        try #require(parts.count == 3)
        let bytes = try #require(Base64URL.decode(parts[1]))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    static func kid(_ token: String) throws -> String {
        let first = try #require(token.split(separator: ".").first)
        let bytes = try #require(Base64URL.decode(first))
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        return try #require(header["kid"] as? String)
    }
}
