import Hummingbird
import Prometheus

/// The router both services start from: the middleware stack in its one right order, plus
/// `/healthz`, `/readyz` and `/metrics`. Outermost first: Hummingbird's metrics and the request
/// log see the final status, after `ProblemMiddleware` has turned an error into problem+json.
/// Middleware a service adds afterwards sits inside `ProblemMiddleware` and still sees errors.
public enum ServiceRouter {
    public static func make(
        registry: PrometheusCollectorRegistry, readiness: @escaping HealthRoutes.ReadinessCheck
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: RequestLoggerMiddleware())
        router.add(middleware: ProblemMiddleware())
        HealthRoutes(readiness: readiness).register(on: router)
        MetricsRoute(registry: registry).register(on: router)
        return router
    }
}
