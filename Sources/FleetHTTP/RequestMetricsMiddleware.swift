import Dispatch
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// Hummingbird's `MetricsMiddleware`, same metric names and dimensions, with one difference: an
/// answer of known length is counted and timed when the handler returns it, instead of after it is
/// written. Hummingbird's version wraps every body in a closure to time the write, and a wrapped
/// body loses the server's fast path: head, body and end go to the socket as three writes, each a
/// hop to the event loop and a system call, instead of one (`perf` at batch 1: 18 % of ingest's CPU
/// under the outbound writes). Such an answer is one buffer written at once, so its time is all in
/// the handler. A streamed answer (bulk enrollment) is still timed to its last byte.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let cache: RequestMetricsCache

    /// `factory` defaults to the process's metrics system (the services bootstrap Prometheus).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        cache = RequestMetricsCache(factory: factory)
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = cache.begin(method: request.method)
        do {
            var response = try await next(request, context)
            let route = context.endpointPath ?? "Unknown"
            let cache = self.cache
            let status = response.status
            let record: @Sendable () -> Void = {
                cache.end(start, route: route, status: status)
            }
            if response.body.contentLength != nil {
                record()
            } else {
                let body = response.body
                response.body = ResponseBody(contentLength: nil) { writer in
                    defer { record() }
                    try await body.write(writer)
                }
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            cache.end(start, route: context.endpointPath ?? "NotFound", status: status, failed: true)
            throw error
        }
    }
}

/// The metric objects by method and by (route, method, status), made once: creating them through
/// the factory on every request would cost a registry lookup each. Public for a responder outside
/// the router (ingest's event-loop telemetry path), so its answers are counted under the same names.
public final class RequestMetricsCache: Sendable {
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// A request being answered: counted among the active ones until `end`.
    public struct Start: Sendable {
        let method: HTTPRequest.Method
        let nanoseconds: UInt64
        let active: Meter
    }

    public func begin(method: HTTPRequest.Method) -> Start {
        let start = Start(
            method: method, nanoseconds: DispatchTime.now().uptimeNanoseconds, active: active(method: method))
        start.active.increment()
        return start
    }

    /// Counts and times the answer; `failed` also counts it in `hb.request.errors` (a thrown error).
    public func end(_ start: Start, route: String, status: HTTPResponse.Status, failed: Bool = false) {
        let metrics = endpoint(.init(route: route, method: start.method, status: status))
        metrics.requests.increment()
        if failed {
            metrics.errors.increment()
        } else {
            metrics.duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start.nanoseconds))
        }
        start.active.decrement()
    }

    struct Endpoint: Hashable, Sendable {
        let route: String
        let method: HTTPRequest.Method
        let status: HTTPResponse.Status
    }

    struct EndpointMetrics: Sendable {
        let requests: Counter
        let duration: Metrics.Timer
        let errors: Counter

        init(_ id: Endpoint, factory: any MetricsFactory) {
            let dimensions = [
                ("http.route", id.route), ("http.request.method", id.method.rawValue),
                ("http.response.status_code", String(id.status.code)),
            ]
            requests = Counter(label: "hb.requests", dimensions: dimensions, factory: factory)
            duration = Metrics.Timer(
                label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds,
                factory: factory)
            errors = Counter(
                label: "hb.request.errors",
                dimensions: [
                    ("http.route", id.route), ("http.request.method", id.method.rawValue),
                    ("error.type", String(id.status.code)),
                ], factory: factory)
        }
    }

    private let methods = Mutex<[HTTPRequest.Method: Meter]>([:])
    private let endpoints = Mutex<[Endpoint: EndpointMetrics]>([:])

    func active(method: HTTPRequest.Method) -> Meter {
        methods.withLock { methods in
            if let meter = methods[method] { return meter }
            let meter = Meter(
                label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)],
                factory: factory)
            methods[method] = meter
            return meter
        }
    }

    func endpoint(_ id: Endpoint) -> EndpointMetrics {
        endpoints.withLock { endpoints in
            if let metrics = endpoints[id] { return metrics }
            let metrics = EndpointMetrics(id, factory: factory)
            endpoints[id] = metrics
            return metrics
        }
    }
}
