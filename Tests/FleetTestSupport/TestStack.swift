import CompressNIO
import FleetAuth
import FleetCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ingest
import NIOCore
import Provisioning

/// Both services running live in-process on loopback against one test database, ingest reading
/// provisioning's JWKS over HTTP, as in production.
public struct TestStack: Sendable {
    public let databaseURL: String
    public let provisioning: any TestClientProtocol
    public let ingest: any TestClientProtocol

    public static let adminUser = "admin"
    public static let adminPassword = "correct-horse-battery"

    /// Starts provisioning, then ingest pointed at provisioning's JWKS, with a bootstrap admin.
    public static func run<T: Sendable>(
        databaseURL: String? = nil,
        clock: any WallClock = SystemWallClock(),
        provisioning tweakProvisioning: @Sendable (inout ProvisioningConfiguration) -> Void = { _ in },
        ingest tweakIngest: @Sendable (inout IngestConfiguration) -> Void = { _ in },
        _ body: @Sendable (TestStack) async throws -> T
    ) async throws -> T {
        let url: String
        if let databaseURL { url = databaseURL } else { url = try await TestDatabase.create() }
        try await Fixtures.createOperator(url: url, username: adminUser, password: adminPassword, role: .admin)
        var provisioningConfiguration = TestConfigurations.provisioning(databaseURL: url)
        tweakProvisioning(&provisioningConfiguration)
        let provisioningApp = try buildProvisioningApplication(configuration: provisioningConfiguration, clock: clock)
        let provisioningStart = StartWatch("provisioning")
        return try await provisioningApp.test(.live) { provisioning in
            provisioningStart.serving()
            let port = provisioning.port!
            var ingestConfiguration = TestConfigurations.ingest(
                databaseURL: url, jwksURL: "http://127.0.0.1:\(port)/.well-known/jwks.json"
            )
            tweakIngest(&ingestConfiguration)
            let ingestApp = try buildIngestApplication(configuration: ingestConfiguration, clock: clock)
            let ingestStart = StartWatch("ingest")
            return try await ingestApp.test(.live) { ingest in
                ingestStart.serving()
                return try await body(TestStack(databaseURL: url, provisioning: provisioning, ingest: ingest))
            }
        }
    }

    // MARK: helpers

    /// Logs in and returns the operator token.
    public func login(_ username: String = adminUser, _ password: String = adminPassword) async throws -> String {
        let response = try await provisioning.execute(
            uri: "/v1/login", method: .post, headers: [.contentType: "application/json"],
            body: Self.json(["username": username, "password": password])
        )
        guard response.status == .ok else {
            throw TestDatabase.Failure(description: "login answered \(response.status)")
        }
        return try Self.object(response.body)["access_token"] as! String
    }

    /// Enrolls one device; returns the answer's JSON object.
    public func enroll(id: String? = nil, fleet: String? = nil, operatorToken: String) async throws -> [String: Any] {
        var body: [String: Any] = [:]
        if let id { body["id"] = id }
        if let fleet { body["fleet"] = fleet }
        let response = try await provisioning.execute(
            uri: "/v1/devices", method: .post,
            headers: [.contentType: "application/json", .authorization: "Bearer \(operatorToken)"],
            body: Self.json(body)
        )
        guard response.status == .created else {
            throw TestDatabase.Failure(
                description: "enroll answered \(response.status): \(String(buffer: response.body))")
        }
        return try Self.object(response.body)
    }

    /// Posts a SenML pack, deflated unless `encoding` says otherwise.
    public func post(
        _ pack: String, token: String?, encoding: String? = "deflate", contentType: String = "application/senml+json",
        idempotencyKey: String? = nil, extraHeaders: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extraHeaders
        headers[.contentType] = contentType
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let idempotencyKey { headers[HTTPField.Name("Idempotency-Key")!] = idempotencyKey }
        var body = ByteBuffer(string: pack)
        switch encoding {
        case "deflate":
            headers[.contentEncoding] = "deflate"
            body = try body.compress(with: .zlib())
        case "gzip":
            headers[.contentEncoding] = "gzip"
            body = try body.compress(with: .gzip())
        default:
            break
        }
        return try await ingest.execute(uri: "/v1/telemetry", method: .post, headers: headers, body: body)
    }

    /// Rows stored for a device.
    public func storedCount(device: String) async throws -> Int {
        try await TestDatabase.scalar(databaseURL, "SELECT count(*)::int8 FROM telemetry WHERE device_id = '\(device)'")
    }

    public static func json(_ object: Any) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    public static func object(_ body: ByteBuffer) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            throw TestDatabase.Failure(description: "answer is not a JSON object: \(String(buffer: body))")
        }
        return object
    }

    /// The problem+json `code` of an error answer.
    public static func code(_ response: TestResponse) -> String? {
        (try? object(response.body))?["code"] as? String
    }
}
