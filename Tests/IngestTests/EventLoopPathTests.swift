import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Ingest
import Testing

/// `TelemetryChannelHandler` answers posts on the event loop and passes every other request to
/// the router; these check what that split must not change.
@Suite("Ingest's event-loop telemetry path")
struct EventLoopPathTests {
    #if canImport(Glibc)  // RawPipeline's sockets; Linux is where `make test` runs
        @Test("pipelined posts and other requests are answered in request order, and each post is stored")
        func pipelinedInOrder() async throws {
            try await TestStack.run { stack in
                let token = try await stack.deviceToken("pipe-1")
                func post(_ count: Int, token: String? = token, close: Bool = false) -> String {
                    var headers = ["Content-Type": "application/senml+json"]
                    if let token { headers["Authorization"] = "Bearer \(token)" }
                    return RawPipeline.request(
                        "POST", "/v1/telemetry", headers: headers, body: Packs.records(count), close: close)
                }
                // Posts first, between and after router requests, a refused one among them, and a
                // post right behind a router request (which the handler passes on to the router).
                let exchange = try await RawPipeline.exchange(
                    port: stack.ingest.port!,
                    requests: [
                        post(1), RawPipeline.request("GET", "/healthz"), post(2), post(3, token: nil),
                        RawPipeline.request("GET", "/v1/telemetry"), post(4), post(5, close: true),
                    ])
                let answers = exchange.answers
                #expect(answers.map(\.status) == [200, 200, 200, 401, 405, 200, 200])
                #expect(answers.count == 7)
                guard answers.count == 7 else { return }
                #expect(answers[0].body == #"{"accepted":1}"#)
                #expect(answers[2].body == #"{"accepted":2}"#)
                #expect(answers[3].body.contains(#""code":"token_missing""#))
                #expect(answers[3].headers["content-type"] == "application/problem+json")
                #expect(answers[4].body.contains(#""code":"method_not_allowed""#))
                #expect(answers[5].body == #"{"accepted":4}"#)
                #expect(answers[6].body == #"{"accepted":5}"#)
                for answer in answers {
                    #expect(answer.headers["server"] == "fleetgate-ingest")
                    #expect(answer.headers["date"]?.hasSuffix(" GMT") == true)
                }
                // Connection: close is honoured after the last answer.
                #expect(exchange.closedByServer)
                #expect(try await stack.storedCount(device: "pipe-1") == 1 + 2 + 4 + 5)
            }
        }

        @Test("a post on a connection that then closes uses up no in-flight slot")
        func abandonedPostFreesItsSlot() async throws {
            // One slot: a post whose body never arrives must give it back when its client goes.
            try await TestStack.run(ingest: { $0.maxInFlight = 1 }) { stack in
                let token = try await stack.deviceToken("pipe-2")
                let head =
                    "POST /v1/telemetry HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                    + "Content-Type: application/senml+json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n[{"
                // The half-sent post: the server waits for the rest until this client closes.
                _ = try? await RawPipeline.exchange(port: stack.ingest.port!, requests: [head], readFor: .seconds(1))
                // The server learns of the close on its own loop, a moment later.
                var response = try await stack.post(Packs.three(), token: token)
                let deadline = ContinuousClock.now + .seconds(5)
                while response.status == .serviceUnavailable, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                    response = try await stack.post(Packs.three(), token: token)
                }
                #expect(response.status == .ok)
                #expect(try await stack.storedCount(device: "pipe-2") == 3)
            }
        }
    #endif
}
