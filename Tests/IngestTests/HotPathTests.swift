import FleetAuth
import FleetCore
import FleetStore
import FleetTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ingest
import NIOCore
import PostgresNIO
import Synchronization
import Testing

@Suite("Ingest hot path against PostgreSQL")
struct HotPathTests {
    @Test("a repeated token is a cache hit that skips RSA; a changed payload is never a hit")
    func tokenCacheHit() async throws {
        try await TestStack.run { stack in
            let token = try await stack.deviceToken("cache-1")
            #expect(try await stack.post(Packs.three(), token: token).status == .ok)
            let hits = #"fleetgate_token_cache_total{result="hit"}"#
            let misses = #"fleetgate_token_cache_total{result="miss"}"#
            #expect(try await stack.metric(hits) == 0)
            #expect(try await stack.post(Packs.three(), token: token).status == .ok)
            #expect(try await stack.metric(hits) == 1)
            #expect(try await stack.metric(misses) == 1)
            // Same header and signature, another payload: not the cached token.
            var claims = try claimsObject(token)
            claims["sub"] = "cache-2"
            let response = try await stack.post(Packs.three(), token: forged(token, claims: claims))
            expectProblem(response, 401, "token_bad_signature")
            #expect(try await stack.metric(hits) == 1)
            #expect(try await stack.storedCount(device: "cache-2") == 0)
        }
    }

    @Test("a cached token stops working when it expires")
    func tokenCacheExpiry() async throws {
        let clock = FakeClock()
        try await TestStack.run(clock: clock) { stack in
            let token = try await stack.deviceToken("cache-exp")
            #expect(
                try await stack.post(Packs.three(now: clock.now().timeIntervalSince1970), token: token).status == .ok)
            clock.advance(by: 2 * 3600)
            let response = try await stack.post(Packs.three(now: clock.now().timeIntervalSince1970), token: token)
            expectProblem(response, 401, "token_expired")
            #expect(try await stack.storedCount(device: "cache-exp") == 3)
        }
    }

    @Test("the verified-token cache keys on the whole token and drops entries at exp")
    func verifiedTokenCacheUnit() {
        let cache = VerifiedTokenCache(capacity: 4)
        let claims = AccessClaims(
            iss: "fleetgate", sub: "d", aud: ["fleetgate-ingest"], iat: 1000, nbf: 1000, exp: 2000, jti: "j")
        cache.insert("h.p.s", claims: claims, now: 1000)
        #expect(cache.claims(for: "h.p.s", now: 1500, leeway: 60) == claims)
        #expect(cache.claims(for: "h.q.s", now: 1500, leeway: 60) == nil)
        #expect(cache.claims(for: "h.p.s", now: 2060, leeway: 60) == nil)
        #expect(cache.count == 0)
        for index in 0..<10 { cache.insert("t\(index)", claims: claims, now: 1000) }
        #expect(cache.count <= 4)
    }

    @Test("a revocation reaches two ingest nodes through NOTIFY, with no full reload to fall back on")
    func revocationOnTwoNodes() async throws {
        // With the periodic reload an hour away, only the notification can lock the device out.
        // The 1 s lockout is a latency target: simulator/chaos.json measures it under load
        // (accepted after revocation = 0); on two cores busy with the whole suite a test cannot.
        let noReload: @Sendable (inout IngestConfiguration) -> Void = { $0.revocationReloadSeconds = 3600 }
        try await TestStack.run(ingest: noReload) { stack in
            let token = try await stack.deviceToken("rev-1")
            let jwks = "http://127.0.0.1:\(stack.provisioning.port!)/.well-known/jwks.json"
            var secondConfiguration = TestConfigurations.ingest(databaseURL: stack.databaseURL, jwksURL: jwks)
            noReload(&secondConfiguration)
            let second = try buildIngestApplication(configuration: secondConfiguration)
            let secondStart = StartWatch("the second ingest node")
            try await second.test(.live) { node2 in
                secondStart.serving()
                let nodes = [stack.ingest, node2]
                for node in nodes {
                    let warm = try await node.execute(
                        uri: "/v1/telemetry", method: .post,
                        headers: [.authorization: "Bearer \(token)", .contentType: "application/senml+json"],
                        body: ByteBuffer(string: "[]"))
                    #expect(TestStack.code(warm) == "bad_payload")
                }
                let admin = try await stack.login()
                let revoke = try await stack.provisioning.execute(
                    uri: "/v1/devices/rev-1/revoke", method: .post, headers: [.authorization: "Bearer \(admin)"])
                #expect(revoke.status == .ok)
                // The bound runs from the answer: the revocation is committed and notified by then.
                let started = ContinuousClock.now
                for (index, node) in nodes.enumerated() {
                    var refused = false
                    while !refused, ContinuousClock.now - started < .seconds(15) {
                        let probe = try await node.execute(
                            uri: "/v1/telemetry", method: .post,
                            headers: [.authorization: "Bearer \(token)", .contentType: "application/senml+json"],
                            body: ByteBuffer(string: "[]"))
                        refused = TestStack.code(probe) == "token_revoked"
                        if !refused { try await Task.sleep(for: .milliseconds(50)) }
                    }
                    #expect(refused, "node \(index + 1) refused the revoked device (waited 15 s)")
                    if refused {
                        print(
                            "revocation over NOTIFY: node \(index + 1) refused after \(ContinuousClock.now - started)")
                    }
                }
            }
            #expect(try await stack.storedCount(device: "rev-1") == 0)
        }
    }

    @Test("a token with a new kid is accepted at once; a second unknown kid within the interval fetches nothing")
    func jwksRefreshOnUnknownKid() async throws {
        // The interval runs on the real clock, and on a machine busy with the whole suite the steps
        // below took longer than API.md's 10 s, so the second kid was fetched (JWKSRefreshTests
        // checks the 10 s itself on a fake clock).
        try await TestStack.run(ingest: { $0.jwksUnknownKidIntervalSeconds = 600 }) { stack in
            let admin = try await stack.login()
            let refreshes = #"fleetgate_jwks_refreshes_total{outcome="ok"}"#
            let before = try await stack.metric(refreshes)
            let rotated = try await stack.provisioning.execute(
                uri: "/v1/keys/rotate", method: .post, headers: [.authorization: "Bearer \(admin)"])
            #expect(rotated.status == .ok)
            let newKid = try TestStack.object(rotated.body)["kid"] as? String
            let token = try await stack.deviceToken("jwks-1")
            #expect(try headerObject(token)["kid"] as? String == newKid)
            #expect(try await stack.post(Packs.three(), token: token).status == .ok)
            #expect(try await stack.metric(refreshes) == before + 1)

            // Another rotation right away: that kid stays unknown until the interval has passed.
            let again = try await stack.provisioning.execute(
                uri: "/v1/keys/rotate", method: .post, headers: [.authorization: "Bearer \(admin)"])
            #expect(again.status == .ok)
            let token2 = try await stack.deviceToken("jwks-2")
            expectProblem(try await stack.post(Packs.three(), token: token2), 401, "token_unknown_key")
            #expect(try await stack.metric(refreshes) == before + 1)
            #expect(try await stack.storedCount(device: "jwks-2") == 0)
        }
    }

    @Test("20 concurrent posts with one Idempotency-Key store once; another device's same key is its own")
    func idempotencyConcurrent() async throws {
        try await TestStack.run { stack in
            let token = try await stack.deviceToken("idem-1")
            let other = try await stack.deviceToken("idem-2")
            let pack = Packs.three()
            let bodies = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let response = try await stack.post(pack, token: token, idempotencyKey: "batch-0001")
                        #expect(response.status == .ok)
                        return String(buffer: response.body)
                    }
                }
                var bodies: [String] = []
                for try await body in group { bodies.append(body) }
                return bodies
            }
            #expect(bodies.filter { $0 == #"{"accepted":3}"# }.count == 1)
            #expect(bodies.filter { $0 == #"{"accepted":0,"duplicate":true}"# }.count == 19)
            #expect(try await stack.storedCount(device: "idem-1") == 3)
            let fromOther = try await stack.post(pack, token: other, idempotencyKey: "batch-0001")
            #expect(String(buffer: fromOther.body) == #"{"accepted":3}"#)
            #expect(try await stack.storedCount(device: "idem-2") == 3)
            #expect(try await stack.metric(#"fleetgate_ingest_requests_total{status="200",code="duplicate"}"#) == 19)
        }
    }

    @Test("concurrent posts are all committed, and the writer shares transactions among them")
    func groupCommitEndToEnd() async throws {
        try await TestStack.run(ingest: { $0.writerConnections = 1 }) { stack in
            let token = try await stack.deviceToken("group-1")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let response = try await stack.post(Packs.records(5), token: token, idempotencyKey: "g\(index)")
                        #expect(response.status == .ok)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await stack.storedCount(device: "group-1") == 200)
            #expect(try await stack.metric("fleetgate_telemetry_records_committed_total") == 200)
            let transactions = try await TestDatabase.scalar(
                stack.databaseURL, "SELECT count(DISTINCT xmin::text)::int8 FROM telemetry")
            #expect(transactions <= 40)
            // Every transaction is timed, in buckets fine enough for a millisecond commit.
            let text = String(buffer: try await stack.ingest.execute(uri: "/metrics", method: .get).body)
            #expect(text.contains(#"fleetgate_writer_commit_seconds_bucket{le="0.0001"}"#))
            #expect(TestStack.metric("fleetgate_writer_commit_seconds_count", in: text) == Double(transactions))
        }
    }

    @Test("past http.maxInFlight a post is answered 503 overloaded at once, with Retry-After")
    func inFlightLimit() async throws {
        try await TestStack.run(ingest: { $0.maxInFlight = 1 }) { stack in
            let token = try await stack.deviceToken("flight-1")
            // Hold the telemetry table locked, so the first post waits inside the writer.
            try await withDatabase(url: stack.databaseURL, logger: TestDatabase.logger) { client in
                try await client.withConnection { connection in
                    try await connection.query("BEGIN", logger: TestDatabase.logger)
                    try await connection.query(
                        "LOCK TABLE telemetry IN ACCESS EXCLUSIVE MODE", logger: TestDatabase.logger)
                    let first = Task { try await stack.post(Packs.three(), token: token) }
                    // Wait until the first post's INSERT waits for the lock. pg_locks spans the
                    // cluster, where other tests wait for locks of their own: only this database's
                    // telemetry table counts.
                    while try await TestDatabase.scalar(
                        stack.databaseURL,
                        """
                        SELECT count(*)::int8 FROM pg_locks
                        WHERE NOT granted AND relation = 'telemetry'::regclass
                          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                        """) == 0
                    {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    // The test client has one connection, busy with the first post: use another.
                    let client = TestClient(host: "127.0.0.1", port: try #require(stack.ingest.port))
                    client.connect()
                    let second = try await client.post(
                        "/v1/telemetry",
                        headers: [.authorization: "Bearer \(token)", .contentType: "application/senml+json"],
                        body: ByteBuffer(string: Packs.three()))
                    try await client.shutdown()
                    #expect(second.status.code == 503)
                    #expect(second.head.headerFields[.retryAfter] == "1")
                    #expect(second.head.headerFields[.contentType] == "application/problem+json")
                    #expect(second.body.map { String(buffer: $0) }?.contains(#""code":"overloaded""#) == true)
                    try await connection.query("COMMIT", logger: TestDatabase.logger)
                    #expect(try await first.value.status == .ok)
                }
            }
            #expect(try await stack.storedCount(device: "flight-1") == 3)
            #expect(try await stack.metric(TestStack.requests(503, "overloaded")) == 1)
        }
    }

    @Test("graceful shutdown under load: every post answered 200 is in the database")
    func gracefulShutdownUnderLoad() async throws {
        let url = try await TestDatabase.create()
        let answered = AnsweredCount()
        let (posts, token) = try await TestStack.run(databaseURL: url) { stack in
            let token = try await stack.deviceToken("shut-1")
            let posts = Task {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<60 {
                        group.addTask {
                            guard
                                let response = try? await stack.post(
                                    Packs.records(10), token: token, idempotencyKey: "s\(index)"),
                                response.status == .ok
                            else { return 0 }
                            answered.value.add(1, ordering: .relaxed)
                            return 10
                        }
                    }
                    return try await group.reduce(0, +)
                }
            }
            // Once the first posts are answered, end the body while the others are in flight: that
            // starts the graceful shutdown. (Waiting for the first stored row was not enough: one
            // transaction can commit most of the posts, and the client closes before it reads any
            // answer.)
            let deadline = ContinuousClock.now + .seconds(30)
            while answered.value.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            return (posts, token)
        }
        _ = token
        let acknowledged = try await posts.value
        #expect(acknowledged > 0)
        let stored = try await TestDatabase.scalar(url, "SELECT count(*)::int8 FROM telemetry")
        // At least, not equal: HummingbirdTesting's live test closes its client, then shuts the
        // server down (LiveTestFramework: `client.shutdown()` before `triggerGracefulShutdown()`),
        // so answers to posts committed in those last moments are lost on the client's side
        // (tried: two to four posts stored but unanswered in each of three runs). That the server
        // answers what it has taken in is exercised with real processes and SIGTERM in
        // `make reliability`.
        #expect(stored >= acknowledged)
    }
}

/// Posts answered 200 so far, shared by the posting tasks and the test.
private final class AnsweredCount: Sendable {
    let value = Atomic<Int>(0)
}
