import CoreMetrics
import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOCore
import NIOPosix

/// The control-plane endpoints of API.md.
struct ProvisioningRoutes: Sendable {
    let configuration: ProvisioningConfiguration
    let operators: any OperatorRepository
    let devices: DeviceRepository
    let telemetry: TelemetryReader
    let keyRing: KeyRing
    let issuer: TokenIssuer
    let tokens: TokenRefresh
    let authenticator: OperatorAuthenticator
    let throttle: LoginThrottle
    let metrics: ProvisioningMetrics
    let clock: any WallClock
    /// Compared against for unknown users, so both failures cost one bcrypt check.
    let dummyHash: String

    func register(on router: Router<BasicRequestContext>) {
        router.get("/.well-known/jwks.json", use: jwks)
        router.post("/v1/login", use: login)
        router.post("/v1/operators", use: createOperator)
        router.post("/v1/token", use: refresh)
        router.post("/v1/keys/rotate", use: rotateKeys)
        router.post("/v1/devices", use: enroll)
        router.post("/v1/devices/bulk", use: BulkEnrollment(routes: self).handle)
        router.get("/v1/devices", use: listDevices)
        router.get("/v1/devices/:id", use: getDevice)
        router.delete("/v1/devices/:id", use: deleteDevice)
        router.post("/v1/devices/:id/revoke", use: revoke)
        router.post("/v1/devices/:id/credentials", use: reissue)
        router.get("/v1/devices/:id/telemetry", use: telemetryRecords)
        router.get("/v1/devices/:id/latest", use: latest)
    }

    // MARK: keys

    @Sendable func jwks(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try JSONResponse.make(try await keyRing.published(), headers: [.cacheControl: "public, max-age=300"])
    }

    @Sendable func rotateKeys(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticator.authorize(request, .administer)
        let key = try await NIOThreadPool.singleton.runIfActive { try SigningKey.generate() }
        try await keyRing.rotate(to: key, publishOldFor: configuration.retiredKeyPublishSeconds)
        metrics.keyRotations.increment()
        context.logger.notice("signing key rotated", metadata: ["operator": "\(caller.sub)", "kid": "\(key.kid)"])
        return try JSONResponse.make(RotateAnswer(kid: key.kid))
    }

    // MARK: operators

    @Sendable func login(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await decode(LoginRequest.self, request, context)
        let now = clock.now()
        // No account has a longer name (new ones have at most 64 characters): answered at once,
        // with no bcrypt run and no throttle record, so huge names cost neither CPU nor memory.
        guard (1...OperatorRules.longestLoginName).contains(body.username.utf8.count) else {
            metrics.loginFailure.increment()
            throw FleetError(.invalidCredentials, "unknown username or wrong password")
        }
        do {
            try throttle.reserve(body.username, now: now)
        } catch {
            metrics.loginThrottled.increment()
            throw error
        }
        let account: OperatorRecord?
        let matches: Bool
        do {
            account = try await operators.find(username: body.username)
            let hash = account?.passwordHash ?? dummyHash
            let password = body.password
            // bcrypt costs tens of milliseconds: keep it off the event loop.
            matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
        } catch {
            throttle.abandoned(body.username)
            throw error
        }
        guard let account, matches, let role = OperatorRole(rawValue: account.role) else {
            let delay = throttle.failed(body.username, now: now)
            metrics.loginFailure.increment()
            context.logger.notice("login failed", metadata: ["username": "\(body.username.prefix(64))"])
            // Unknown user and wrong password are held back alike, so timing tells nothing.
            try await Task.sleep(for: delay)
            throw FleetError(.invalidCredentials, "unknown username or wrong password")
        }
        throttle.succeeded(body.username)
        metrics.loginSuccess.increment()
        metrics.operatorTokensIssued.increment()
        context.logger.info(
            "login succeeded", metadata: ["username": "\(account.username)", "role": "\(role.rawValue)"])
        let token = try await issuer.operatorToken(username: account.username, role: role)
        return AccessTokenAnswer(accessToken: token, expiresIn: configuration.operatorTokenLifetime).response()
    }

    @Sendable func createOperator(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticator.authorize(request, .administer)
        let body = try await decode(CreateOperatorRequest.self, request, context)
        try OperatorRules.validate(username: body.username, password: body.password)
        guard let role = OperatorRole(rawValue: body.role) else {
            throw FleetError(.invalidRequest, "role must be admin, operator or viewer")
        }
        let cost = UInt8(configuration.bcryptCost)
        let password = body.password
        let hash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
        guard try await operators.create(username: body.username, passwordHash: hash, role: role.rawValue) else {
            throw FleetError(.conflict, "operator \(body.username) exists")
        }
        context.logger.notice(
            "operator created",
            metadata: ["by": "\(caller.sub)", "username": "\(body.username)", "role": "\(role.rawValue)"]
        )
        return try JSONResponse.make(["username": body.username, "role": role.rawValue], status: .created)
    }

    // MARK: device tokens

    /// Most token requests never get here: `TokenFastPath` answers them on the event loop. It
    /// passes one on when it cannot answer in order (pipelined behind a request the router owes).
    @Sendable func refresh(_ request: Request, context: BasicRequestContext) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: RefreshForm.limit)
        } catch {
            throw RefreshForm.tooLarge
        }
        let exchange = try tokens.exchange(body: body, contentType: request.headers[.contentType])
        return try await tokens.answer(try await tokens.run(exchange), exchange, logger: context.logger).response()
    }

    // MARK: devices

    @Sendable func enroll(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticator.authorize(request, .manageDevices)
        let body = try await decode(EnrollRequest.self, request, context)
        let enrollment = try EnrollmentRules.request(id: body.id, fleet: body.fleet, labels: body.labels)
        let created = try await devices.enroll([enrollment.request], now: clock.now())
        guard created.contains(enrollment.request.id) else {
            throw FleetError(.conflict, "device \(enrollment.request.id) exists")
        }
        metrics.enrollments.increment()
        metrics.deviceTokensIssued.increment()
        context.logger.info(
            "device enrolled", metadata: ["by": "\(caller.sub)", "device_id": "\(enrollment.request.id)"])
        // A re-used id of a deleted device starts with a cut-off; the first token must pass it.
        let cutoff = try await devices.find(id: enrollment.request.id)?.revokedBefore ?? 0
        let access = try await issuer.deviceToken(
            device: enrollment.request.id, fleet: enrollment.request.fleet, notBefore: cutoff)
        return try JSONResponse.make(
            EnrollAnswer(
                id: enrollment.request.id, fleet: enrollment.request.fleet, refreshToken: enrollment.refreshToken,
                accessToken: access, expiresIn: configuration.deviceTokenLifetime
            ),
            status: .created, headers: [.cacheControl: "no-store"]
        )
    }

    @Sendable func listDevices(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try await authenticator.authorize(request, .read)
        let query = request.uri.queryParameters
        let limit =
            try query.get("limit").map { text -> Int in
                guard let n = Int(text), (1...1000).contains(n) else {
                    throw FleetError(.invalidRequest, "limit must be 1–1000")
                }
                return n
            } ?? 100
        let after = try query.get("after").map { cursor -> String in
            guard let bytes = Base64URL.decode(cursor), let id = String(bytes: bytes, encoding: .utf8) else {
                throw FleetError(.invalidRequest, "after is not a cursor from a previous page")
            }
            return id
        }
        let fleet = query.get("fleet").flatMap { $0.isEmpty ? nil : $0 }
        let page = try await devices.list(fleet: fleet, after: after, limit: limit + 1)
        let shown = page.prefix(limit)
        let next = page.count > limit ? shown.last.map { Base64URL.encode(Array($0.id.utf8)) } : nil
        return try JSONResponse.make(DeviceList(devices: shown.map(DeviceView.init), next: next))
    }

    @Sendable func getDevice(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try await authenticator.authorize(request, .read)
        let id = try deviceID(context)
        guard let device = try await devices.find(id: id) else { throw FleetError(.notFound, "no device \(id)") }
        return try JSONResponse.make(DeviceView(device))
    }

    @Sendable func revoke(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticator.authorize(request, .manageDevices)
        let id = try deviceID(context)
        let clock = self.clock
        guard try await devices.revoke(id: id, clock: { clock.now() }) else {
            throw FleetError(.notFound, "no device \(id)")
        }
        metrics.revocations.increment()
        context.logger.notice("device revoked", metadata: ["by": "\(caller.sub)", "device_id": "\(id)"])
        guard let device = try await devices.find(id: id) else { throw FleetError(.notFound, "no device \(id)") }
        return try JSONResponse.make(DeviceView(device))
    }

    @Sendable func reissue(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticator.authorize(request, .manageDevices)
        let id = try deviceID(context)
        let token = RefreshToken.generate()
        guard try await devices.reissue(id: id, refreshTokenHash: RefreshToken.hash(token), now: clock.now()) else {
            throw FleetError(.notFound, "no device \(id)")
        }
        context.logger.notice("device credentials re-issued", metadata: ["by": "\(caller.sub)", "device_id": "\(id)"])
        return try JSONResponse.make(
            CredentialsAnswer(id: id, refreshToken: token), headers: [.cacheControl: "no-store"])
    }

    @Sendable func deleteDevice(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await authenticator.authorize(request, .administer)
        let id = try deviceID(context)
        let purge = request.uri.queryParameters.get("purge") == "true"
        let clock = self.clock
        guard try await devices.delete(id: id, purge: purge, clock: { clock.now() }) else {
            throw FleetError(.notFound, "no device \(id)")
        }
        context.logger.notice(
            "device deleted", metadata: ["by": "\(caller.sub)", "device_id": "\(id)", "purge": "\(purge)"])
        return Response(status: .noContent)
    }

    // MARK: telemetry reads

    @Sendable func telemetryRecords(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try await authenticator.authorize(request, .read)
        let id = try deviceID(context)
        let query = request.uri.queryParameters
        func seconds(_ key: String) throws -> Double? {
            try query.get(key).map { text in
                guard let value = Double(text), value.isFinite else {
                    throw FleetError(.invalidRequest, "\(key) must be Unix seconds")
                }
                return value
            }
        }
        let limit =
            try query.get("limit").map { text -> Int in
                guard let n = Int(text), (1...10_000).contains(n) else {
                    throw FleetError(.invalidRequest, "limit must be 1–10000")
                }
                return n
            } ?? 1000
        let (from, to) = (try seconds("from"), try seconds("to"))
        guard try await devices.find(id: id) != nil else { throw FleetError(.notFound, "no device \(id)") }
        let records = try await telemetry.records(device: id, name: query.get("name"), from: from, to: to, limit: limit)
        return SenMLAnswer.make(records)
    }

    @Sendable func latest(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try await authenticator.authorize(request, .read)
        let id = try deviceID(context)
        guard try await devices.find(id: id) != nil else { throw FleetError(.notFound, "no device \(id)") }
        return SenMLAnswer.make(try await telemetry.latest(device: id))
    }

    // MARK: helpers

    func deviceID(_ context: BasicRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), DeviceID.isValid(id) else {
            throw FleetError(.notFound, "no such device")
        }
        return id
    }

    /// `application/json`, or a `+json` type (RFC 6839), with any parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let essence = contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces)
        return essence == "application/json" || (essence.hasPrefix("application/") && essence.hasSuffix("+json"))
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: BasicRequestContext) async throws -> T {
        // API.md: a Content-Type other than JSON is 415; a missing one is read as JSON.
        if let contentType = request.headers[.contentType]?.lowercased(),
            !Self.isJSON(contentType)
        {
            throw FleetError(.unsupportedMediaType, "send application/json")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: 64 * 1024)
        } catch {
            throw FleetError(.payloadTooLarge, "body exceeds 64 KiB")
        }
        do {
            return try JSONResponse.decoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw FleetError(.invalidRequest, "body is not JSON of the expected shape")
        }
    }
}

/// Username and password rules for new operators.
public enum OperatorRules {
    /// Bytes of the longest username a login looks up. Above the 64 characters new names may have,
    /// for accounts named before that rule was applied to `create-operator`.
    static let longestLoginName = 256

    public static func validate(username: String, password: String) throws(FleetError) {
        guard DeviceID.isValid(username), username.count <= 64 else {
            throw FleetError(.invalidRequest, "username must be 1–64 characters of A-Z a-z 0-9 _ . : -")
        }
        // bcrypt reads at most 72 bytes; longer passwords would be silently truncated.
        guard (12...72).contains(password.utf8.count) else {
            throw FleetError(.invalidRequest, "password must be 12–72 bytes")
        }
    }
}
