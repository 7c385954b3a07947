import FleetCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The one place errors become answers: every error, ours, Hummingbird's or a library's, leaves as
/// problem+json with a contract code. Unknown errors are logged (type only) and answered 500
/// without detail, so nothing internal leaks; so is an `internal_error` of ours, whose detail is
/// for the log.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Maps a library's error to a contract error (the database's "unavailable" to 503), or nil.
    public typealias Translate = @Sendable (any Error) -> FleetError?

    let translate: Translate

    public init(translate: @escaping Translate = { _ in nil }) {
        self.translate = translate
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            let response = try await next(request, context)
            return response
        } catch {
            return ProblemResponse.make(
                Self.fleetError(from: error, request: request, logger: context.logger, translate: translate))
        }
    }

    static func fleetError(
        from error: any Error, request: Request, logger: Logger, translate: Translate = { _ in nil }
    ) -> FleetError {
        if !(error is FleetError), let translated = translate(error) {
            if translated.status >= 500 {
                logger.warning(
                    "request failed", metadata: ["error_type": "\(type(of: error))", "answer": "\(translated.code)"])
            }
            return fleetError(from: translated, request: request, logger: logger)
        }
        switch error {
        case let error as FleetError:
            return ProblemResponse.answerable(error, logger: logger)
        case is NIOTooManyBytesError:
            return FleetError(.payloadTooLarge, "body exceeds the size limit")
        case let error as HTTPError:
            switch error.status.code {
            case 404: return FleetError(.notFound, "no route for \(request.method) \(request.uri.path)")
            case 405: return FleetError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)")
            case 413: return FleetError(.payloadTooLarge, "body exceeds the size limit")
            case 415: return FleetError(.unsupportedMediaType, error.body ?? "unsupported media type")
            case 400..<500: return FleetError(.invalidRequest, error.body ?? "invalid request")
            default: break
            }
        case is DecodingError:
            return FleetError(.invalidRequest, "request body is not valid JSON of the expected shape")
        default:
            break
        }
        logger.error("unhandled error", metadata: ["error_type": "\(type(of: error))"])
        return FleetError(.internalError, "internal error")
    }
}
