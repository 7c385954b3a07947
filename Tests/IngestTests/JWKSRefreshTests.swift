import FleetAuth
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

@testable import Ingest

@Suite("JWKS refresh: schedule, backoff and a provisioning that is down")
struct JWKSRefreshTests {
    let start = ContinuousClock.now

    @Test("after a success the next refresh is due a refresh interval later")
    func periodic() {
        var schedule = JWKSRefreshSchedule(refreshInterval: .seconds(300))
        #expect(schedule.nextRefresh == nil, "nothing tried yet: the service waits for the start-up load")
        let endedStreak = schedule.succeeded(at: start)
        #expect(endedStreak == 0)
        #expect(schedule.nextRefresh == start + .seconds(300))
    }

    @Test("with keys held, failures in a row wait 1 s, 2 s, 4 s … up to the refresh interval, reset by a success")
    func backoff() throws {
        var schedule = JWKSRefreshSchedule(refreshInterval: .seconds(300))
        _ = schedule.succeeded(at: start)
        var now = start + .seconds(300)
        var waits: [Duration] = []
        for _ in 0..<12 {
            _ = schedule.failed(at: now)
            let next = try #require(schedule.nextRefresh)
            waits.append(next - now)
            now = next
        }
        #expect(waits.map { Int($0.components.seconds) } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300])
        let endedStreak = schedule.succeeded(at: now)
        #expect(endedStreak == 12)
        #expect(schedule.nextRefresh == now + .seconds(300))
        _ = schedule.failed(at: now + .seconds(5))
        #expect(schedule.nextRefresh == now + .seconds(6), "a new streak starts again at 1 s")
    }

    @Test("before the first key set, failures are retried every second: nothing verifies until one arrives")
    func beforeFirstLoad() {
        var schedule = JWKSRefreshSchedule(refreshInterval: .seconds(300))
        for attempt in 0..<10 { _ = schedule.failed(at: start + .seconds(attempt)) }
        #expect(schedule.nextRefresh == start + .seconds(10))
    }

    @Test("a refresh interval below a second caps the first retry too")
    func shortInterval() {
        var schedule = JWKSRefreshSchedule(refreshInterval: .milliseconds(200))
        _ = schedule.succeeded(at: start)
        _ = schedule.failed(at: start + .seconds(1))
        #expect(schedule.nextRefresh == start + .seconds(1) + .milliseconds(200))
    }

    @Test("a failure streak is logged at its start, then once a minute; a success starts a new streak")
    func logging() {
        var schedule = JWKSRefreshSchedule(refreshInterval: .seconds(300))
        let logged = (0..<180).filter { schedule.failed(at: start + .seconds($0)) }
        #expect(logged == [0, 60, 120])
        _ = schedule.succeeded(at: start + .seconds(180))
        let firstOfNewStreak = schedule.failed(at: start + .seconds(181))
        let second = schedule.failed(at: start + .seconds(182))
        #expect(firstOfNewStreak && !second)
    }

    @Test("plain http to another machine is flagged (a warning at start); https and loopback are not")
    func exposedURL() {
        for url in ["http://10.0.0.5:8081/.well-known/jwks.json", "HTTP://provisioning.internal/jwks.json"] {
            #expect(JWKSSource.isExposed(url: url), "\(url)")
        }
        for url in [
            "https://provisioning.example/.well-known/jwks.json", "http://127.0.0.1:8081/.well-known/jwks.json",
            "http://localhost:8081/jwks.json", "http://[::1]:8081/jwks.json",
        ] {
            #expect(!JWKSSource.isExposed(url: url), "\(url)")
        }
    }

    @Test("a key that leaves the JWKS is reported, so the tokens it signed leave the verified-token cache")
    func keyRemoved() async throws {
        let (old, kept) = (try SigningKey.generate(), try SigningKey.generate())
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        func publish(_ keys: [SigningKey]) throws {
            try JSONEncoder().encode(JWKSDocument(keys: keys.map(\.publicJWK))).write(to: file)
        }
        let removed = Mutex<[Set<String>]>([])
        let cache = VerifiedTokenCache(capacity: 10)
        let source = JWKSSource(
            url: nil, file: file.path, refreshInterval: .seconds(300), unknownKidInterval: .seconds(10),
            logger: Logger(label: "jwks-test"),
            onKeysRemoved: { kids in
                removed.withLock { $0.append(kids) }
                cache.removeAll()
            })
        try publish([old, kept])
        #expect(await source.refresh())
        let claims = AccessClaims(
            iss: "i", sub: "d", aud: ["a"], iat: 0, nbf: 0, exp: 4_000_000_000, jti: "j", fleet: nil,
            scope: "telemetry:write", role: nil)
        cache.insert("a.b.c", claims: claims, now: 0)
        try publish([kept, old])  // the same keys in another order: nothing left
        #expect(await source.refresh())
        #expect(removed.withLock { $0.isEmpty } && cache.count == 1)
        try publish([kept])
        #expect(await source.refresh())
        #expect(removed.withLock { $0 } == [[old.kid]])
        #expect(cache.count == 0)
        #expect(source.keys[old.kid] == nil && source.keys[kept.kid] != nil)
    }

    // A 503 from a proxy in front of provisioning fails at once. (Refused connections fail slower:
    // AsyncHTTPClient retries the connect with backoff until the fetch's 5 s timeout.)
    @Test("a JWKS URL that answers 503 is fetched twice in 3.5 s, not ten times a second")
    func unavailableURL() async throws {
        let requests = Atomic<Int>(0)
        let jwks = String(
            decoding: try JSONEncoder().encode(JWKSDocument(keys: [try SigningKey.generate().publicJWK])), as: UTF8.self
        )
        let router = Router()
        // Provisioning answers once, then is down.
        router.get("/.well-known/jwks.json") { _, _ in
            guard requests.add(1, ordering: .relaxed).newValue == 1 else { throw HTTPError(.serviceUnavailable) }
            return jwks
        }
        let logger = {
            var logger = Logger(label: "jwks-test")
            logger.logLevel = .critical
            return logger
        }()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let source = JWKSSource(
                url: "http://127.0.0.1:\(try #require(client.port))/.well-known/jwks.json", file: nil,
                refreshInterval: .seconds(2), unknownKidInterval: .seconds(10), logger: logger)
            #expect(await source.refresh())

            // The periodic refresh is due 2 s after the load, with provisioning down.
            let running = Task { try await source.run() }
            try await Task.sleep(for: .seconds(3.5))
            running.cancel()
            _ = await running.result
            // Fetches at +2 s and +3 s (the next at +5 s); before, one every 100 ms from +2 s: about 15.
            let failed = requests.load(ordering: .relaxed) - 1
            #expect((1...3).contains(failed), "\(failed) failed fetches in 3.5 s")
            #expect(source.isLoaded && !source.keys.isEmpty, "keeps verifying with the keys it has")
        }
    }
}
