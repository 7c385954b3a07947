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
        let elapsed = ContinuousClock.now - start
        if context.logger.logLevel <= .debug || response.status.code >= 500 {
            context.logger.log(
                level: response.status.code >= 500 ? .warning : .debug,
                "request",
                metadata: [
                    "method": "\(request.method.rawValue)", "path": "\(request.uri.path)",
                    "status": "\(response.status.code)",
                    "ms":
                        "\(Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000)",
                ]
            )
        }
        return response
    }
}
