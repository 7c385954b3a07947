import Foundation
import Logging
import NIOHTTP1
import Synchronization
import Testing

@testable import Simulator

@Suite("A whole run over the telemetry pool, posts as event-loop callbacks")
struct SimulationOverPoolTests {
    static let grant = #"{"access_token":"a.b.c","token_type":"Bearer","expires_in":3600,"refresh_token":"next"}"#

    static func options(server: ScriptedHTTPServer) -> SimulationOptions {
        var options = SimulationOptions()
        options.credentials = (0..<3).map { DeviceCredential(id: "dev-\($0)", fleet: "f", refreshToken: "r\($0)") }
        options.devices = 3
        options.rate = .total(20)
        options.recordsPerBatch = 1
        options.duration = .seconds(1)
        options.progress = .none
        options.seed = 11
        options.backoff = Backoff(base: .milliseconds(20), cap: .milliseconds(100), maxAttempts: 3)
        options.provisioningURL = "http://127.0.0.1:\(server.port)"
        options.ingestURL = "http://127.0.0.1:\(server.port)"
        // Generous bounds: under the whole suite this machine can be slow enough for a 2 s request
        // timeout or the default drain to end attempts these tests expect to be answered.
        options.requestTimeout = .seconds(20)
        options.drainTimeout = .seconds(60)
        return options
    }

    @Test("a 503 with Retry-After is retried after it under the same key, then acknowledged and ledgered")
    func retryAfter() async throws {
        let seen = Mutex<[String: ContinuousClock.Instant]>([:])
        let server = try await ScriptedHTTPServer.start { request in
            if request.head.uri == "/v1/token" { return .respond(status: 200, body: Self.grant) }
            let key = request.head.headers["Idempotency-Key"].first ?? ""
            let first = seen.withLock { $0.updateValue(.now, forKey: key) == nil }
            if first {
                return .respond(
                    status: 503, body: #"{"code":"overloaded"}"#, headers: [("Retry-After", "1")])
            }
            return .respond(status: 200, body: #"{"accepted":1}"#)
        }
        var logger = Logger(label: "simulation-over-pool")
        logger.logLevel = .error
        let result = try await runSimulation(Self.options(server: server), logger: logger)
        try await server.shutdown()

        let report = result.report
        #expect(report.scheduled == 20)
        #expect(report.skipped == 0)
        #expect(report.attempts == 40)
        #expect(report.retries == 20)
        #expect(report.acknowledgedBatches == 20)
        #expect(report.answersByStatus == ["200": 20, "503": 20])
        #expect(result.ledger.batches.count == 20)
        #expect(result.ledger.batches.allSatisfy { $0.acknowledged })
        let telemetry = server.received.filter { $0.head.uri == "/v1/telemetry" }
        var attemptsByKey: [String: [ScriptedHTTPServer.Received]] = [:]
        for request in telemetry {
            attemptsByKey[request.head.headers["Idempotency-Key"].first ?? "", default: []].append(request)
        }
        #expect(attemptsByKey.count == 20)
        for (_, attempts) in attemptsByKey {
            #expect(attempts.count == 2)
            // The retry is the same request: same body, same token.
            #expect(attempts.first?.body == attempts.last?.body)
            #expect(attempts.first?.head.headers["Authorization"] == attempts.last?.head.headers["Authorization"])
        }
        // Each batch waited at least the 1 s it was told before its second attempt.
        #expect(report.latencyMillis.p50 >= 1000)
    }

    @Test("a refusal that is not retryable ends the batch after one attempt; timeouts are retried, then in doubt")
    func givingUp() async throws {
        let server = try await ScriptedHTTPServer.start { request in
            if request.head.uri == "/v1/token" { return .respond(status: 200, body: Self.grant) }
            let index = Int(request.head.headers["Idempotency-Key"].first?.split(separator: "-").last ?? "", radix: 36)
            return (index ?? 0) % 2 == 0 ? .respond(status: 400, body: #"{"code":"bad_payload"}"#) : .close
        }
        let options = Self.options(server: server)
        var logger = Logger(label: "simulation-over-pool")
        logger.logLevel = .error
        let result = try await runSimulation(options, logger: logger)
        try await server.shutdown()

        let report = result.report
        #expect(report.scheduled == 20)
        #expect(report.acknowledgedBatches == 0)
        // Ten refused once each; ten cut off three times each (maxAttempts 3), then in doubt.
        #expect(report.attempts == 10 + 30)
        #expect(report.retries == 20)
        #expect(report.failedBatches == 10)
        #expect(report.inDoubtBatches == 10)
        #expect(result.ledger.batches.count == 10)
        #expect(result.ledger.batches.allSatisfy { !$0.acknowledged })
    }
}
