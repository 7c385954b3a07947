import Hummingbird
import Prometheus

/// The router both services start from: the middleware stack in its one right order, plus
/// `/healthz`, `/readyz` and `/metrics`. Outermost first: Hummingbird's metrics and the request
/// log see the final status, after `ProblemMiddleware` has turned an error into problem+json.
/// Middleware a service adds afterwards sits inside `ProblemMiddleware` and still sees errors.
/// `finish` runs after the service's routes are registered.
public enum ServiceRouter {
    public static func make(
        registry: PrometheusCollectorRegistry,
        translateError: @escaping ProblemMiddleware<BasicRequestContext>.Translate = { _ in nil },
        readiness: @escaping HealthRoutes.ReadinessCheck
    ) -> Router<BasicRequestContext> {
        // HEAD is answered for every GET route (the GET answer without its body), as RFC 9110
        // §9.3.2 expects; load balancers probe /healthz that way.
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: RequestLoggerMiddleware())
        router.add(middleware: ProblemMiddleware(translate: translateError))
        HealthRoutes(readiness: readiness).register(on: router)
        MetricsRoute(registry: registry).register(on: router)
        return router
    }

    /// Call after the service's last route: a known path asked with another method is then
    /// answered 405 `method_not_allowed` with `Allow`, instead of the router's 404. A route
    /// registered after it would have its own `HTTPError(.notFound)` turned into 405 as well.
    public static func finish(_ router: Router<BasicRequestContext>) {
        let allowed = AllowedMethods()
        allowed.load(from: router, headForGet: true)
        router.add(middleware: MethodNotAllowedMiddleware(allowed: allowed))
    }
}
