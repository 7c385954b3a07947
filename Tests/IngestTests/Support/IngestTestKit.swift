import FleetAuth
import FleetCore
import FleetStore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// SenML packs for the ingest tests.
enum Packs {
    /// Three records (a number, a number with relative time, a boolean) at `now`.
    static func three(now: Double = Date().timeIntervalSince1970) -> String {
        #"[{"bn":"boiler/","bt":\#(now),"n":"temp","u":"Cel","v":71.5},"#
            + #"{"n":"pressure","u":"Pa","v":101325,"t":1},{"n":"door_open","vb":false}]"#
    }

    /// `count` numeric records named `m0`, `m1`, ... at `now`.
    static func records(_ count: Int, now: Double = Date().timeIntervalSince1970) -> String {
        var pack = #"[{"bt":\#(now),"n":"m0","v":0}"#
        for index in 1..<max(count, 1) { pack += #",{"n":"m\#(index)","v":\#(index)}"# }
        return pack + "]"
    }
}

extension TestStack {
    /// Logs in as the bootstrap admin, enrolls `id`, and returns its access token.
    func deviceToken(_ id: String) async throws -> String {
        let admin = try await login()
        let device = try await enroll(id: id, operatorToken: admin)
        return try #require(device["access_token"] as? String)
    }

    /// The current value of one Prometheus series of ingest's `/metrics`, e.g.
    /// `fleetgate_token_cache_total{result="hit"}`; 0 when the series is absent.
    func metric(_ series: String, on client: (any TestClientProtocol)? = nil) async throws -> Double {
        let response = try await (client ?? ingest).execute(uri: "/metrics", method: .get)
        return Self.metric(series, in: String(buffer: response.body))
    }

    static func metric(_ series: String, in text: String) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces)) ?? .nan
        }
        return 0
    }

    /// The series counting ingest answers with `code`.
    static func requests(_ status: Int, _ code: String) -> String {
        #"fleetgate_ingest_requests_total{status="\#(status)",code="\#(code)"}"#
    }

    /// The current signing key of provisioning, read from the database as provisioning does.
    func signingKey() async throws -> SigningKey {
        try await withDatabase(url: databaseURL, logger: TestDatabase.logger) { client in
            try await SigningKeyRepository(
                client: client, encryption: try KeyEncryption(base64: TestConfigurations.keyEncryptionKey),
                logger: TestDatabase.logger
            ).currentKey()
        }
    }

    /// Signs a token with the given claims (defaults: a valid device token for `sub`).
    func mint(
        sub: String, key: SigningKey? = nil, iss: String = "fleetgate", aud: [String] = [TokenNames.ingestAudience],
        issuedAt: Date = Date(), notBefore: Date? = nil, expires: Date? = nil,
        scope: String? = TokenNames.telemetryWrite, role: String? = nil
    ) async throws -> String {
        let iat = Int64(issuedAt.timeIntervalSince1970)
        let claims = AccessClaims(
            iss: iss, sub: sub, aud: aud, iat: iat, nbf: notBefore.map { Int64($0.timeIntervalSince1970) } ?? iat,
            exp: expires.map { Int64($0.timeIntervalSince1970) } ?? iat + 3600, jti: TokenSigner.randomJTI(),
            fleet: "default", scope: scope, role: role
        )
        let signingKey: SigningKey
        if let key { signingKey = key } else { signingKey = try await self.signingKey() }
        return try TokenSigner().sign(claims, with: signingKey)
    }
}

/// `header.payload.signature` with the header or payload replaced by these JSON objects.
func forged(_ token: String, header: [String: Any]? = nil, claims: [String: Any]? = nil) -> String {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    let h = header.map { Base64URL.encode(try! JSONSerialization.data(withJSONObject: $0)) } ?? parts[0]
    let c = claims.map { Base64URL.encode(try! JSONSerialization.data(withJSONObject: $0)) } ?? parts[1]
    return "\(h).\(c).\(parts[2])"
}

/// The decoded claims of a token.
func claimsObject(_ token: String) throws -> [String: Any] {
    let payload = try #require(Base64URL.decode(token.split(separator: ".")[1]))
    return try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
}

/// The decoded header of a token.
func headerObject(_ token: String) throws -> [String: Any] {
    let header = try #require(Base64URL.decode(token.split(separator: ".")[0]))
    return try #require(try JSONSerialization.jsonObject(with: Data(header)) as? [String: Any])
}

/// Checks an error answer: status, problem+json with the code, the 401/429/503 headers of API.md.
func expectProblem(
    _ response: TestResponse, _ status: Int, _ code: String, _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(Int(response.status.code) == status, comment, sourceLocation: sourceLocation)
    #expect(TestStack.code(response) == code, comment, sourceLocation: sourceLocation)
    #expect(
        response.headers[.contentType] == "application/problem+json", comment, sourceLocation: sourceLocation)
    if status == 401 {
        #expect(
            response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, comment, sourceLocation: sourceLocation)
    }
    if status == 429 || status == 503 {
        #expect(
            response.headers[.retryAfter].flatMap(Int.init).map { $0 >= 1 } == true, comment,
            sourceLocation: sourceLocation)
    }
    let body = String(buffer: response.body)
    #expect(!body.contains("SELECT") && !body.contains("PSQL"), comment, sourceLocation: sourceLocation)
}
