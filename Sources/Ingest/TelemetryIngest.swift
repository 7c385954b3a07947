import CoreMetrics
import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import Foundation
import HTTPTypes
import NIOCore

/// The steps of `POST /v1/telemetry` (ARCHITECTURE.md, "The ingest hot path"), in the contract's
/// order, for both responders: `TelemetryFastPath` on the event loop, and `TelemetryRoute`
/// in the router for a post the handler passes on. Authenticate (cache, no database), rate-limit,
/// check the head, then read and inflate within limits, decode and resolve SenML, hand the batch to
/// the group-commit writer and answer only after commit.
struct TelemetryIngest: Sendable {
    let authenticator: DeviceAuthenticator
    let rateLimiter: DeviceRateLimiter
    let bodyReader: BodyReader
    let resolver: SenMLResolver
    let writer: any TelemetryWriting
    let lastSeen: LastSeenRecorder?
    let clock: any WallClock
    let inFlight: InFlightLimit
    let metrics: IngestMetrics

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    /// A post whose head passed every check: what its body needs.
    struct Admission: Sendable {
        let device: String
        let idempotencyKey: String?
        let encoding: BodyReader.Encoding
        let now: Double
    }

    /// The checks on the head, without suspending. Nil when the token names a key this node does
    /// not have yet: `admitRefreshingKeys` then refreshes the keys (suspending) and answers.
    func admit(_ headers: HTTPFields) throws(FleetError) -> Admission? {
        guard let claims = try authenticator.authenticateWithKnownKeys(authorization: headers[values: .authorization])
        else { return nil }
        return try admit(headers, device: claims.sub)
    }

    func admitRefreshingKeys(_ headers: HTTPFields) async throws(FleetError) -> Admission {
        let claims = try await authenticator.authenticate(authorization: headers[values: .authorization])
        return try admit(headers, device: claims.sub)
    }

    private func admit(_ headers: HTTPFields, device: String) throws(FleetError) -> Admission {
        let now = clock.now().timeIntervalSince1970
        try rateLimiter.take(device: device, now: now)
        try Self.checkContentType(headers[values: .contentType])
        let key = try Self.idempotencyKey(headers[values: Self.idempotencyKey])
        let encoding = try bodyReader.admit(headers)
        return Admission(device: device, idempotencyKey: key, encoding: encoding, now: now)
    }

    /// The body, read whole within the compressed limit, as the batch to commit.
    func batch(_ admission: Admission, body: ByteBuffer) throws(FleetError) -> TelemetryBatch {
        let inflated = try bodyReader.decode(body, encoding: admission.encoding)
        let records = try SenMLDecoder().decode(inflated.readableBytesView)
        let resolved = try resolver.resolve(records, now: admission.now)
        return TelemetryBatch(deviceID: admission.device, idempotencyKey: admission.idempotencyKey, records: resolved)
    }

    /// For a caller that may suspend: the batch, committed, as the answer's JSON.
    func commit(_ admission: Admission, body: ByteBuffer) async throws(FleetError) -> String {
        answer(try await writer.write(try batch(admission, body: body)), device: admission.device)
    }

    /// The answer's JSON once the writer has committed (or recognised a repeat).
    func answer(_ outcome: WriteOutcome, device: String) -> String {
        lastSeen?.record(device)
        switch outcome {
        case .stored(let count):
            metrics.accepted.increment()
            metrics.recordsAccepted.increment(by: count)
            return #"{"accepted":\#(count)}"#
        case .duplicate:
            metrics.duplicates.increment()
            return #"{"accepted":0,"duplicate":true}"#
        }
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
