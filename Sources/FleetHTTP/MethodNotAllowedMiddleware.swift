import FleetCore
import Hummingbird

/// Turns the router's 404 for a known path into 405 `method_not_allowed` with the path's methods
/// in `Allow`. Added after every route (by `ServiceRouter.finish`), so it wraps only the router's
/// not-found answer: a handler's own 404, such as an unknown device, is never touched.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: AllowedMethods

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let methods = allowed.methods(for: request.uri.path)
            guard !methods.isEmpty else { throw error }
            let names = methods.map(\.rawValue)
            throw FleetError(
                .methodNotAllowed,
                "\(request.method) is not allowed on \(request.uri.path); use \(names.joined(separator: ", "))",
                allow: names)
        }
    }
}
