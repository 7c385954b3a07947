import FleetCore
import FleetHTTP
import HTTPTypes
import Hummingbird
import NIOCore

/// `POST /v1/telemetry` in the router. Most posts never get here: `TelemetryFastPath`
/// answers them on the event loop. It passes a post on when it cannot answer in order, that is,
/// when a client pipelines the post behind a request the router is still answering.
struct TelemetryRoute: Sendable {
    let ingest: TelemetryIngest

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/telemetry", use: handle)
    }

    /// Errors are counted by `RejectionMetricsMiddleware`, with every other error of the service.
    @Sendable func handle(_ request: Request, context: BasicRequestContext) async throws(FleetError) -> Response {
        try ingest.inFlight.enter()
        defer { ingest.inFlight.leave() }
        let admission: TelemetryIngest.Admission
        if let known = try ingest.admit(request.headers) {
            admission = known
        } else {
            admission = try await ingest.admitRefreshingKeys(request.headers)
        }
        let json = try await ingest.commit(admission, body: try await ingest.bodyReader.collect(request))
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
