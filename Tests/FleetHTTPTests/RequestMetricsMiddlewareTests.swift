import FleetHTTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Prometheus
import Testing

@Suite("Request metrics: Hummingbird's names, and one write for an answer of known length")
struct RequestMetricsMiddlewareTests {
    @Test("answers of known length and streamed ones are counted and timed by route, method and status")
    func counted() async throws {
        let registry = PrometheusCollectorRegistry()
        let router = Router()
        router.add(
            middleware: RequestMetricsMiddleware(factory: PrometheusMetricsFactory.fleetgate(registry: registry)))
        router.get("/fixed") { _, _ in
            Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "fixed")))
        }
        router.get("/streamed") { _, _ in
            Response(
                status: .accepted,
                body: ResponseBody(
                    asyncSequence: AsyncStream { parts in
                        parts.yield(ByteBuffer(string: "a"))
                        parts.yield(ByteBuffer(string: "b"))
                        parts.finish()
                    }))
        }
        router.get("/failing") { _, _ -> Response in throw HTTPError(.badRequest) }
        try await Application(router: router).test(.live) { client in
            for _ in 0..<3 {
                #expect(try await client.execute(uri: "/fixed", method: .get).status == .ok)
            }
            let streamed = try await client.execute(uri: "/streamed", method: .get)
            #expect(String(buffer: streamed.body) == "ab")
            #expect(try await client.execute(uri: "/failing", method: .get).status == .badRequest)
        }
        let text = registry.emitToString()
        let fixed = #"http_route="/fixed",http_request_method="GET",http_response_status_code="200""#
        let streamed = #"http_route="/streamed",http_request_method="GET",http_response_status_code="202""#
        #expect(text.contains("hb_requests{\(fixed)} 3"), "\(text)")
        #expect(text.contains("hb_requests{\(streamed)} 1"))
        #expect(text.contains("http_server_request_duration_count{\(fixed)} 3"))
        #expect(text.contains("http_server_request_duration_count{\(streamed)} 1"))
        #expect(
            text.contains(
                #"hb_request_errors{http_route="/failing",http_request_method="GET",error_type="400"} 1"#))
        #expect(text.contains(#"http_server_active_requests{http_request_method="GET"} 0.0"#))
    }
}
