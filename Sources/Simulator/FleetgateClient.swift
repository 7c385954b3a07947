import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A new access token from `POST /v1/token` (or the operator login).
public struct TokenGrant: Sendable, Equatable, Decodable {
    public var accessToken: String
    public var expiresIn: Int
    /// The rotated refresh token (absent from the operator login).
    public var refreshToken: String?

    public init(accessToken: String, expiresIn: Int, refreshToken: String?) {
        self.accessToken = accessToken
        self.expiresIn = expiresIn
        self.refreshToken = refreshToken
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
    }
}

/// An answer that was not the one asked for: its status and contract `code`.
public struct ProblemAnswer: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    /// The problem+json `code`, or "http_<status>" when the body had none, or
    /// "timeout" / "connection_error" when there was no answer.
    public var code: String
    public var retryAfter: Duration?

    public init(status: Int, code: String, retryAfter: Duration? = nil) {
        self.status = status
        self.code = code
        self.retryAfter = retryAfter
    }

    /// Worth asking again: overload, rate limit, no answer, or a server error.
    public var isTransient: Bool { status == 0 || status == 429 || status >= 500 }

    public var description: String { status == 0 ? code : "\(status) \(code)" }
}

/// The calls the simulator makes to the two services: provisioning over one shared
/// `HTTPClient`, telemetry over a `TelemetryConnectionPool` when ingest is plain HTTP.
struct FleetgateClient: Sendable {
    let http: HTTPClient
    /// The hot path's own connections; nil for an https (or http+unix) ingest URL, whose posts
    /// go through `http`.
    let telemetryPool: TelemetryConnectionPool?
    let provisioningURL: String
    let ingestURL: String
    let requestTimeout: TimeAmount

    init(
        http: HTTPClient, provisioningURL: String, ingestURL: String, requestTimeout: Duration,
        telemetryPool: TelemetryConnectionPool? = nil
    ) {
        self.http = http
        self.telemetryPool = telemetryPool
        self.provisioningURL = provisioningURL.hasSuffix("/") ? String(provisioningURL.dropLast()) : provisioningURL
        self.ingestURL = ingestURL.hasSuffix("/") ? String(ingestURL.dropLast()) : ingestURL
        self.telemetryURL = self.ingestURL + "/v1/telemetry"
        let (seconds, attoseconds) = requestTimeout.components
        self.requestTimeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    private let telemetryURL: String

    // MARK: Provisioning

    /// `POST /v1/login` → an operator access token.
    func login(_ login: SimulationOptions.Operator) async throws(ProblemAnswer) -> String {
        let body = try jsonBody(["username": login.username, "password": login.password])
        let (status, answer, _) = try await send(
            .POST, provisioningURL + "/v1/login", body: body, contentType: "application/json")
        guard status == 200, let grant = try? JSONDecoder().decode(TokenGrant.self, from: answer) else {
            throw Self.problem(status: status, body: answer, headers: [:])
        }
        return grant.accessToken
    }

    /// `POST /v1/token` with a refresh token → a new access token and the rotated refresh token.
    func token(refreshToken: String) async throws(ProblemAnswer) -> TokenGrant {
        let body = try jsonBody(["grant_type": "refresh_token", "refresh_token": refreshToken])
        let (status, answer, headers) = try await send(
            .POST, provisioningURL + "/v1/token", body: body, contentType: "application/json")
        guard status == 200, let grant = try? JSONDecoder().decode(TokenGrant.self, from: answer) else {
            throw Self.problem(status: status, body: answer, headers: headers)
        }
        return grant
    }

    /// One line of the bulk enrollment answer.
    struct EnrollmentLine: Decodable {
        struct LineError: Decodable {
            var code: String
            var detail: String?
        }
        var line: Int?
        var id: String?
        var fleet: String?
        var refreshToken: String?
        var error: LineError?

        enum CodingKeys: String, CodingKey {
            case line, id, fleet, error
            case refreshToken = "refresh_token"
        }
    }

    /// `POST /v1/devices/bulk` with NDJSON `{"id","fleet"}` lines → the streamed answer lines.
    func bulkEnroll(ids: [String], fleet: String, operatorToken: String) async throws(ProblemAnswer) -> [EnrollmentLine]
    {
        var body = ByteBuffer()
        for id in ids {
            body.writeString(#"{"id":"# + Self.jsonString(id) + #","fleet":"# + Self.jsonString(fleet) + "}\n")
        }
        let (status, answer, headers) = try await send(
            .POST, provisioningURL + "/v1/devices/bulk", body: body, contentType: "application/x-ndjson",
            authorization: "Bearer " + operatorToken, timeout: .seconds(300), limit: 64 << 20
        )
        guard status == 200 || status == 201 else { throw Self.problem(status: status, body: answer, headers: headers) }
        let decoder = JSONDecoder()
        return answer.split(separator: UInt8(ascii: "\n")).compactMap { line in
            try? decoder.decode(EnrollmentLine.self, from: Data(line))
        }
    }

    /// `POST /v1/devices/{id}/credentials` → a new refresh token for an existing device.
    func reissueCredentials(id: String, operatorToken: String) async throws(ProblemAnswer) -> String {
        let (status, answer, headers) = try await send(
            .POST, provisioningURL + "/v1/devices/" + Self.pathComponent(id) + "/credentials", body: nil,
            contentType: nil, authorization: "Bearer " + operatorToken
        )
        guard status == 200 || status == 201, let line = try? JSONDecoder().decode(EnrollmentLine.self, from: answer),
            let refreshToken = line.refreshToken
        else {
            throw Self.problem(status: status, body: answer, headers: headers)
        }
        return refreshToken
    }

    /// `POST /v1/devices/{id}/revoke`.
    func revoke(id: String, operatorToken: String) async throws(ProblemAnswer) {
        let (status, answer, headers) = try await send(
            .POST, provisioningURL + "/v1/devices/" + Self.pathComponent(id) + "/revoke", body: nil,
            contentType: nil, authorization: "Bearer " + operatorToken
        )
        guard (200..<300).contains(status) else { throw Self.problem(status: status, body: answer, headers: headers) }
    }

    // MARK: Ingest

    /// One attempt at `POST /v1/telemetry`. Never throws: every way it can end is an outcome.
    /// With a `telemetryPool`, `encoding` is the pool's (one per run).
    func postTelemetry(
        body: ByteBuffer,
        encoding: BodyEncoding,
        authorization: String,
        idempotencyKey: String
    ) async -> AttemptOutcome {
        if let telemetryPool {
            return await telemetryPool.post(
                TelemetryRequest(body: body, authorization: authorization, idempotencyKey: idempotencyKey))
        }
        var request = HTTPClientRequest(url: telemetryURL)
        request.method = .POST
        request.headers.reserveCapacity(5)
        request.headers.add(name: "Content-Type", value: "application/senml+json")
        switch encoding {
        case .deflate: request.headers.add(name: "Content-Encoding", value: "deflate")
        case .gzip: request.headers.add(name: "Content-Encoding", value: "gzip")
        case .identity: break
        }
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        request.body = .bytes(body)
        do {
            let response = try await http.execute(request, timeout: requestTimeout)
            let answer = try await response.body.collect(upTo: 1 << 16)
            let status = Int(response.status.code)
            if status == 200 {
                return Self.acceptance(answer)
            }
            let problem = Self.problem(status: status, body: Data(answer.readableBytesView), headers: response.headers)
            return .problem(status: status, code: problem.code, retryAfter: problem.retryAfter)
        } catch {
            return Self.outcome(of: error)
        }
    }

    /// Reads `{"accepted":N}` or `{"accepted":0,"duplicate":true}` on the bytes: no String, no
    /// JSONDecoder (once per post, 25 000 times a second).
    static func acceptance(_ body: ByteBuffer) -> AttemptOutcome {
        body.withUnsafeReadableBytes { bytes in
            let duplicate = find(#""duplicate""#, in: bytes) != nil && find("true", in: bytes) != nil
            var accepted = 0
            if var index = find(#""accepted""#, in: bytes) {
                while index < bytes.count, bytes[index] == UInt8(ascii: ":") || bytes[index] == UInt8(ascii: " ") {
                    index += 1
                }
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]),
                    accepted < Int.max / 10 - 9
                {
                    accepted = accepted * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                    index += 1
                }
            }
            return .accepted(records: accepted, duplicate: duplicate)
        }
    }

    /// The index just past the first occurrence of `needle` in `bytes`.
    private static func find(_ needle: StaticString, in bytes: UnsafeRawBufferPointer) -> Int? {
        let count = needle.utf8CodeUnitCount
        guard count > 0, bytes.count >= count else { return nil }
        let pattern = UnsafeRawBufferPointer(start: needle.utf8Start, count: count)
        for start in 0...(bytes.count - count) where bytes[start] == pattern[0] {
            if memcmp(bytes.baseAddress! + start, pattern.baseAddress!, count) == 0 { return start + count }
        }
        return nil
    }

    /// Sorts a thrown error into a timeout or a connection failure.
    static func outcome(of error: any Error) -> AttemptOutcome {
        if let error = error as? HTTPClientError,
            error == .deadlineExceeded || error == .readTimeout || error == .writeTimeout || error == .connectTimeout
        {
            return .timeout
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return .connectionError(reason: "connection_closed")
            case .getConnectionFromPoolTimeout: return .connectionError(reason: "pool_timeout")
            case .cancelled: return .connectionError(reason: "cancelled")
            default: return .connectionError(reason: "connection_error")
            }
        }
        // NIOConnectionError, IOError (ECONNREFUSED, ECONNRESET), ChannelError: name the type.
        return .connectionError(reason: "connection_error." + String(describing: type(of: error)))
    }

    // MARK: Plumbing

    private func send(
        _ method: HTTPMethod,
        _ url: String,
        body: ByteBuffer?,
        contentType: String?,
        authorization: String? = nil,
        timeout: TimeAmount? = nil,
        limit: Int = 1 << 20
    ) async throws(ProblemAnswer) -> (Int, Data, HTTPHeaders) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let body { request.body = .bytes(body) }
        do {
            let response = try await http.execute(request, timeout: timeout ?? requestTimeout)
            let answer = try await response.body.collect(upTo: limit)
            return (Int(response.status.code), Data(answer.readableBytesView), response.headers)
        } catch {
            switch Self.outcome(of: error) {
            case .timeout: throw ProblemAnswer(status: 0, code: "timeout")
            default: throw ProblemAnswer(status: 0, code: "connection_error")
            }
        }
    }

    private func jsonBody(_ object: [String: String]) throws(ProblemAnswer) -> ByteBuffer {
        guard let data = try? JSONSerialization.data(withJSONObject: object) else {
            throw ProblemAnswer(status: 0, code: "invalid_request")
        }
        return ByteBuffer(bytes: data)
    }

    struct Problem: Decodable {
        var code: String?
    }

    /// The problem+json `code` of an error answer and its Retry-After (delta-seconds only).
    static func problem(status: Int, body: Data, headers: HTTPHeaders) -> ProblemAnswer {
        let code = (try? JSONDecoder().decode(Problem.self, from: body))?.code ?? "http_\(status)"
        var retryAfter: Duration?
        if let value = headers.first(name: "Retry-After"),
            let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0
        {
            retryAfter = .seconds(seconds)
        }
        return ProblemAnswer(status: status, code: code, retryAfter: retryAfter)
    }

    /// `value` escaped for the inside of a JSON string.
    static func jsonString(_ value: String) -> String {
        var escaped = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }

    static func pathComponent(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
            ?? value
    }
}
