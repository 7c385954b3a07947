import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Ingest
import NIOCore
import Testing

/// `TelemetryFastPath` (through `FastPathHandler`) answers posts on the event loop and passes every other request to
/// the router; these check what that split must not change.
@Suite("Ingest's event-loop telemetry path")
struct EventLoopPathTests {
    @Test("over TLS, posts are answered on the event-loop path and stored")
    func postOverTLS() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleetgate-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1",
            "-keyout", key, "-out", certificate,
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl could not make a self-signed certificate")
        try await TestStack.run { stack in
            let token = try await stack.deviceToken("tls-1")
            var configuration = TestConfigurations.ingest(
                databaseURL: stack.databaseURL,
                jwksURL: "http://127.0.0.1:\(stack.provisioning.port!)/.well-known/jwks.json")
            configuration.tlsCertificatePath = certificate
            configuration.tlsKeyPath = key
            try await buildIngestApplication(configuration: configuration).test(.ahc(.https)) { client in
                var headers: HTTPFields = [.contentType: "application/senml+json"]
                let refused = try await client.execute(
                    uri: "/v1/telemetry", method: .post, headers: headers, body: ByteBuffer(string: Packs.three()))
                #expect(refused.status == .unauthorized)
                headers[.authorization] = "Bearer \(token)"
                for _ in 0..<2 {
                    let response = try await client.execute(
                        uri: "/v1/telemetry", method: .post, headers: headers, body: ByteBuffer(string: Packs.three()))
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == #"{"accepted":3}"#)
                }
            }
            #expect(try await stack.storedCount(device: "tls-1") == 6)
        }
    }

    #if canImport(Glibc)  // RawPipeline's sockets; Linux is where `make test` runs
        /// A pipelined `POST /v1/telemetry` of `count` records, with `token` when given.
        static func post(
            _ count: Int, token: String?, close: Bool = false, extra: [String: String] = [:]
        ) -> String {
            var headers = extra
            headers["Content-Type"] = "application/senml+json"
            if let token { headers["Authorization"] = "Bearer \(token)" }
            return RawPipeline.request(
                "POST", "/v1/telemetry", headers: headers, body: Packs.records(count), close: close)
        }

        @Test("pipelined posts and other requests are answered in request order, and each post is stored")
        func pipelinedInOrder() async throws {
            try await TestStack.run { stack in
                let token = try await stack.deviceToken("pipe-1")
                func post(_ count: Int, token: String? = token, close: Bool = false) -> String {
                    Self.post(count, token: token, close: close)
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

        @Test("the HTTP decoder keeps Hummingbird's limit of 1 000 header fields")
        func headerFieldCount() async throws {
            try await TestStack.run { stack in
                let token = try await stack.deviceToken("pipe-3")
                func post(fields: Int) -> String {
                    // With Content-Type, Authorization, Host, Content-Length and Connection, `fields` in all.
                    var filler: [String: String] = [:]
                    for index in 0..<(fields - 5) { filler["X-Filler-\(index)"] = "1" }
                    return Self.post(1, token: token, close: true, extra: filler)
                }
                let port = stack.ingest.port!
                let within = try await RawPipeline.exchange(port: port, requests: [post(fields: 1_000)])
                #expect(within.answers.map(\.status) == [200])
                let over = try await RawPipeline.exchange(port: port, requests: [post(fields: 1_002)])
                #expect(over.answers.map(\.status) == [400])
                #expect(try await stack.storedCount(device: "pipe-3") == 1)
            }
        }

        // Here the answer's flush completes at once and the close ends the read cycle; the
        // handler's own stop (`closed`) covers an answer whose flush is delayed, which this test
        // does not reproduce (it passes with that stop removed).
        @Test("nothing pipelined after a post with Connection: close is read or stored")
        func nothingAfterClose() async throws {
            try await TestStack.run { stack in
                let token = try await stack.deviceToken("pipe-4")
                let exchange = try await RawPipeline.exchange(
                    port: stack.ingest.port!,
                    requests: [Self.post(1, token: nil, close: true), Self.post(2, token: token)])
                #expect(exchange.answers.map(\.status) == [401])
                #expect(exchange.closedByServer)
                #expect(try await stack.storedCount(device: "pipe-4") == 0)
            }
        }

        @Test("a client that half-closes after its posts still gets every answer, and each post is stored once")
        func halfCloseAfterPosts() async throws {
            try await TestStack.run { stack in
                let token = try await stack.deviceToken("pipe-5")
                func post(_ count: Int) -> String { Self.post(count, token: token) }
                let port = stack.ingest.port!
                let one = try await RawPipeline.exchange(port: port, requests: [post(1)], halfClose: true)
                #expect(one.answers.map(\.status) == [200])
                #expect(one.answers.first?.body == #"{"accepted":1}"#)
                #expect(one.closedByServer)
                // Behind a router request, and with a post behind it, then the end of input.
                let mixed = try await RawPipeline.exchange(
                    port: port, requests: [post(2), RawPipeline.request("GET", "/healthz"), post(3)], halfClose: true)
                #expect(mixed.answers.map(\.status) == [200, 200, 200])
                #expect(mixed.closedByServer)
                #expect(try await stack.storedCount(device: "pipe-5") == 1 + 2 + 3)
            }
        }
    #endif
}
