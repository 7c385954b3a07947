import Hummingbird
import NIOCore

/// `GET /healthz` (alive) and `GET /readyz` (database reachable and keys loaded).
public struct HealthRoutes: Sendable {
    public typealias ReadinessCheck = @Sendable () async -> [String: Bool]

    let readiness: ReadinessCheck

    public init(readiness: @escaping ReadinessCheck) {
        self.readiness = readiness
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        router.get("/readyz") { _, _ in
            let checks = await readiness()
            let ready = checks.values.allSatisfy { $0 }
            let parts = checks.keys.sorted().map { "\"\($0)\":\(checks[$0]! ? "true" : "false")" }.joined(
                separator: ",")
            let body = #"{"status":"\#(ready ? "ready" : "not_ready")","checks":{\#(parts)}}"#
            var headers: HTTPFields = [.contentType: "application/json"]
            if !ready { headers[.retryAfter] = "1" }
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: body))
            )
        }
    }
}
