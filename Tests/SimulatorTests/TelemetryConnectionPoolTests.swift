import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import Simulator

@Suite("Telemetry connection pool against a real HTTP/1.1 server")
struct TelemetryConnectionPoolTests {
    static func pool(
        _ server: ScriptedHTTPServer, prefix: String = "", connections: Int = 4, timeout: Duration = .seconds(10)
    ) throws -> TelemetryConnectionPool {
        let endpoint = try #require(PlainHTTPEndpoint("http://127.0.0.1:\(server.port)\(prefix)"))
        return TelemetryConnectionPool(
            endpoint: endpoint, encoding: .deflate, maxConnections: connections, requestTimeout: timeout,
            eventLoop: MultiThreadedEventLoopGroup.singleton.next()
        )
    }

    static func request(_ key: String, body: [UInt8] = Array("[]".utf8)) -> TelemetryRequest {
        TelemetryRequest(body: ByteBuffer(bytes: body), authorization: "Bearer token-" + key, idempotencyKey: key)
    }

    static let accepted = ScriptedHTTPServer.Answer.respond(status: 200, body: #"{"accepted":1}"#)

    @Test("sequential posts reuse one keep-alive connection")
    func keepAlive() async throws {
        let server = try await ScriptedHTTPServer.start { _ in Self.accepted }
        let pool = try Self.pool(server)
        for index in 0..<20 {
            #expect(await pool.post(Self.request("k\(index)")) == .accepted(records: 1, duplicate: false))
        }
        #expect(server.received.count == 20)
        #expect(server.connections == 1)
        #expect(Set(server.received.map(\.connection)) == [1])
        #expect(await pool.connectionsMade == 1)
        await pool.shutdown()
        try await server.shutdown()
    }

    @Test("the request arrives intact: path prefix, headers and every body byte")
    func requestIntact() async throws {
        let server = try await ScriptedHTTPServer.start { _ in
            .respond(status: 200, body: #"{"accepted":0,"duplicate":true}"#)
        }
        let pool = try Self.pool(server, prefix: "/edge/")
        var random = SplitMix64(seed: 3)
        // Binary, as a deflated body is, and larger than one socket read.
        let body = (0..<100_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        #expect(await pool.post(Self.request("key-1", body: body)) == .accepted(records: 0, duplicate: true))
        let received = try #require(server.received.first)
        #expect(received.head.method == .POST)
        #expect(received.head.uri == "/edge/v1/telemetry")
        #expect(received.head.version == .http1_1)
        #expect(received.head.headers["Host"] == ["127.0.0.1:\(server.port)"])
        #expect(received.head.headers["Content-Type"] == ["application/senml+json"])
        #expect(received.head.headers["Content-Encoding"] == ["deflate"])
        #expect(received.head.headers["Authorization"] == ["Bearer token-key-1"])
        #expect(received.head.headers["Idempotency-Key"] == ["key-1"])
        #expect(received.head.headers["Content-Length"] == ["100000"])
        #expect(received.body == body)
        await pool.shutdown()
        try await server.shutdown()
    }

    @Test("a 503 is a problem with its code and Retry-After; a 429 without one has none")
    func problems() async throws {
        let server = try await ScriptedHTTPServer.start { request in
            request.head.headers["Idempotency-Key"] == ["busy"]
                ? .respond(
                    status: 503, body: #"{"type":"about:blank","status":503,"code":"overloaded"}"#,
                    headers: [("Retry-After", "2")])
                : .respond(status: 429, body: #"{"code":"rate_limited"}"#)
        }
        let pool = try Self.pool(server)
        let overloaded = await pool.post(Self.request("busy"))
        #expect(overloaded == .problem(status: 503, code: "overloaded", retryAfter: .seconds(2)))
        #expect(overloaded.isRetryable)
        #expect(await pool.post(Self.request("other")) == .problem(status: 429, code: "rate_limited", retryAfter: nil))
        // Problems leave the connection usable.
        #expect(server.connections == 1)
        await pool.shutdown()
        try await server.shutdown()
    }

    @Test("no answer before the deadline is a timeout, and the next post gets a fresh connection")
    func timeout() async throws {
        let server = try await ScriptedHTTPServer.start { request in
            request.head.headers["Idempotency-Key"] == ["slow"] ? .hang : Self.accepted
        }
        // Long enough that the second post's new connection and answer fit inside it on a machine
        // busy with the whole suite (the deadline counts from submission, connecting included):
        // 2 s was not, twice.
        let pool = try Self.pool(server, connections: 1, timeout: .seconds(6))
        #expect(await pool.post(Self.request("slow")) == .timeout)
        // The timed-out connection may still get the old answer, so it is not reused.
        #expect(await pool.post(Self.request("fast")) == .accepted(records: 1, duplicate: false))
        #expect(server.connections == 2)
        #expect(server.received.map(\.connection) == [1, 2])
        await pool.shutdown()
        try await server.shutdown()
    }

    @Test("the server closing mid-request is a connection error for that request; the pool reconnects")
    func serverCloses() async throws {
        let server = try await ScriptedHTTPServer.start { request in
            request.head.headers["Idempotency-Key"] == ["dropped"] ? .close : Self.accepted
        }
        let pool = try Self.pool(server, connections: 1)
        #expect(await pool.post(Self.request("before")) == .accepted(records: 1, duplicate: false))
        let dropped = await pool.post(Self.request("dropped"))
        #expect(dropped == .connectionError(reason: "connection_closed"))
        #expect(dropped.isRetryable)
        #expect(await pool.post(Self.request("after")) == .accepted(records: 1, duplicate: false))
        #expect(server.received.map(\.connection) == [1, 1, 2])
        await pool.shutdown()
        try await server.shutdown()
    }

    @Test("Connection: close after an answer: the answer counts, the next post reconnects")
    func connectionClose() async throws {
        let server = try await ScriptedHTTPServer.start { request in
            .respond(status: 200, body: #"{"accepted":1}"#, close: request.head.headers["Idempotency-Key"] == ["last"])
        }
        let pool = try Self.pool(server, connections: 1)
        #expect(await pool.post(Self.request("last")) == .accepted(records: 1, duplicate: false))
        #expect(await pool.post(Self.request("next")) == .accepted(records: 1, duplicate: false))
        #expect(server.received.map(\.connection) == [1, 2])
        await pool.shutdown()
        try await server.shutdown()
    }

    @Test("concurrent posts share at most maxConnections connections and all get their answer")
    func concurrency() async throws {
        let server = try await ScriptedHTTPServer.start { request in
            // Echo the key in the code, so each post can check it got its own answer.
            .respond(
                status: 409, body: #"{"code":"k-"# + (request.head.headers["Idempotency-Key"].first ?? "") + #""}"#)
        }
        let pool = try Self.pool(server, connections: 3)
        let all = await withTaskGroup(of: (String, AttemptOutcome).self) { group in
            for index in 0..<60 {
                group.addTask { ("\(index)", await pool.post(Self.request("\(index)"))) }
            }
            var all: [String: AttemptOutcome] = [:]
            for await (key, outcome) in group { all[key] = outcome }
            return all
        }
        #expect(all.count == 60)
        for (key, outcome) in all {
            #expect(outcome == .problem(status: 409, code: "k-" + key, retryAfter: nil))
        }
        #expect(server.received.count == 60)
        #expect(server.connections <= 3)
        #expect(await pool.openConnections <= 3)
        await pool.shutdown()
        try await server.shutdown()
    }

    @Test("nothing listening: a connection error that names the failure")
    func refused() async throws {
        // Bind and close a server to get a port that nobody listens on.
        let server = try await ScriptedHTTPServer.start { _ in Self.accepted }
        let pool = try Self.pool(server)
        try await server.shutdown()
        let outcome = await pool.post(Self.request("nobody"))
        guard case .connectionError(let reason) = outcome else {
            Issue.record("expected a connection error, got \(outcome)")
            return
        }
        #expect(reason.hasPrefix("connection_error."))
        #expect(outcome.isRetryable)
        await pool.shutdown()
    }

    @Test("after shutdown, posts end at once as cancelled")
    func afterShutdown() async throws {
        let server = try await ScriptedHTTPServer.start { _ in Self.accepted }
        let pool = try Self.pool(server)
        await pool.shutdown()
        #expect(await pool.post(Self.request("late")) == .connectionError(reason: "cancelled"))
        #expect(server.received.isEmpty)
        try await server.shutdown()
    }

    @Test("plain http URLs are split for the raw client; anything else stays with AsyncHTTPClient")
    func endpoints() throws {
        let local = try #require(PlainHTTPEndpoint("http://127.0.0.1:8080"))
        #expect(local.host == "127.0.0.1" && local.port == 8080 && local.pathPrefix == "")
        #expect(local.hostHeader == "127.0.0.1:8080")
        let prefixed = try #require(PlainHTTPEndpoint("http://ingest.example/edge/"))
        #expect(prefixed.port == 80 && prefixed.hostHeader == "ingest.example" && prefixed.pathPrefix == "/edge")
        let v6 = try #require(PlainHTTPEndpoint("http://[::1]:9000"))
        #expect(v6.host == "::1" && v6.hostHeader == "[::1]:9000")
        #expect(PlainHTTPEndpoint("https://127.0.0.1:8443") == nil)
        #expect(PlainHTTPEndpoint("http+unix://%2Ftmp%2Fingest.sock") == nil)
        #expect(PlainHTTPEndpoint("http://127.0.0.1:8080?x=1") == nil)
    }
}
