import CoreMetrics
import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `POST /v1/telemetry`, the hot path of ARCHITECTURE.md: authenticate (cache, no DB), rate-limit,
/// read and inflate within limits, decode and resolve SenML, hand the batch to the group-commit
/// writer and answer only after commit.
struct TelemetryRoute: Sendable {
    let authenticator: DeviceAuthenticator
    let rateLimiter: DeviceRateLimiter
    let bodyReader: BodyReader
    let resolver: SenMLResolver
    let writer: any TelemetryWriting
    let lastSeen: LastSeenRecorder?
    let clock: any WallClock
    let inFlight: InFlightLimit

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/telemetry", use: handle)
    }

    /// Errors are counted by `RejectionMetricsMiddleware`, with every other error of the service.
    @Sendable func handle(_ request: Request, context: BasicRequestContext) async throws(FleetError) -> Response {
        try inFlight.enter()
        defer { inFlight.leave() }
        return try await ingest(request)
    }

    let metrics: IngestMetrics

    func ingest(_ request: Request) async throws(FleetError) -> Response {
        let claims = try await authenticator.authenticate(authorization: request.headers[values: .authorization])
        let now = clock.now().timeIntervalSince1970
        try rateLimiter.take(device: claims.sub, now: now)
        try Self.checkContentType(request.headers[values: .contentType])
        let key = try Self.idempotencyKey(request.headers[values: Self.idempotencyKey])

        var request = request
        let body = try await bodyReader.read(&request)
        let records = try SenMLDecoder().decode(body.readableBytesView)
        let resolved = try resolver.resolve(records, now: now)
        let outcome = try await writer.write(
            TelemetryBatch(deviceID: claims.sub, idempotencyKey: key, records: resolved))
        lastSeen?.record(claims.sub)
        switch outcome {
        case .stored(let count):
            metrics.accepted.increment()
            metrics.recordsAccepted.increment(by: count)
            return Self.answer(#"{"accepted":\#(count)}"#)
        case .duplicate:
            metrics.duplicates.increment()
            return Self.answer(#"{"accepted":0,"duplicate":true}"#)
        }
    }

    static func answer(_ json: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    static func checkContentType(_ values: [String]) throws(FleetError) {
        guard values.count == 1, let value = values.first, isSenMLOrJSON(value) else {
            throw FleetError(.unsupportedMediaType, "Content-Type must be application/senml+json or application/json")
        }
    }

    /// The media type before any `;` parameters, without case.
    static func isSenMLOrJSON(_ value: String) -> Bool {
        let mediaType = HeaderValue.trimmed(value, stoppingAt: UInt8(ascii: ";"))
        return HeaderValue.equals(mediaType, lowercase: "application/senml+json")
            || HeaderValue.equals(mediaType, lowercase: "application/json")
    }

    /// 1–64 visible ASCII characters (API.md).
    static func idempotencyKey(_ values: [String]) throws(FleetError) -> String? {
        guard let value = values.first else { return nil }
        guard values.count == 1, (1...64).contains(value.utf8.count),
            value.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else {
            throw FleetError(.invalidRequest, "Idempotency-Key must be one header of 1–64 visible ASCII characters")
        }
        return value
    }
}
