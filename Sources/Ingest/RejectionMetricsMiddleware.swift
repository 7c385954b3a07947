import FleetCore
import FleetHTTP
import HTTPTypes
import Hummingbird

/// Counts every error answer of the service in `fleetgate_ingest_requests_total` by status and
/// code: the route's own `FleetError`s and what Hummingbird throws (no route, wrong method).
/// Sits inside `ProblemMiddleware`, sees the error before it becomes problem+json, and rethrows it.
struct RejectionMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: IngestMetrics
    /// The same translation `ProblemMiddleware` applies (a database outage counts as `overloaded`).
    let translate: ProblemMiddleware<Context>.Translate

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            metrics.rejected(translate(error)?.code ?? Self.code(of: error))
            throw error
        }
    }

    /// The contract code the error is answered with (the same mapping as `ProblemMiddleware`).
    static func code(of error: any Error) -> FleetError.Code {
        switch error {
        case let error as FleetError: return error.code
        case let error as HTTPError:
            switch error.status.code {
            case 404: return .notFound
            case 405: return .methodNotAllowed
            case 413: return .payloadTooLarge
            case 415: return .unsupportedMediaType
            case 400..<500: return .invalidRequest
            default: return .internalError
            }
        case is DecodingError: return .invalidRequest
        default: return .internalError
        }
    }
}
