import Hummingbird
import Logging

/// One log line per request: method, path (no query: it may hold cursors), status, duration.
/// Headers are never logged, so tokens cannot leak here.
public struct RequestLoggerMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        RequestLog.record(
            method: request.method.rawValue, path: request.uri.path, status: response.status.code,
            elapsed: ContinuousClock.now - start, logger: context.logger)
        return response
    }
}

/// The request line of `RequestLoggerMiddleware`, for a responder outside the router too:
/// debug level, or a warning for a 5xx answer.
public enum RequestLog {
    public static func record(method: String, path: String, status: Int, elapsed: Duration, logger: Logger) {
        guard logger.logLevel <= .debug || status >= 500 else { return }
        logger.log(
            level: status >= 500 ? .warning : .debug,
            "request",
            metadata: [
                "method": "\(method)", "path": "\(path)", "status": "\(status)",
                "ms":
                    "\(Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000)",
            ]
        )
    }
}
