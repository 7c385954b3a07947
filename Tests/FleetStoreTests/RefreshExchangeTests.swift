import FleetAuth
import FleetCore
import FleetStore
import FleetTestSupport
import Foundation
import PostgresNIO
import Testing

/// Refresh-token exchanges through `DeviceRepository`, many at once, so that they share
/// `exchange_refresh_tokens` statements: every caller must still get its own outcome.
@Suite("Refresh-token exchange against PostgreSQL: batched, each caller its own outcome")
struct RefreshExchangeTests {
    static func run(
        devices count: Int, exchangeTimeout: Duration = .seconds(30),
        _ body: @Sendable (DeviceRepository, [String], String) async throws -> Void
    ) async throws {
        let url = try await TestDatabase.create()
        let client = PostgresClient(
            configuration: try DatabaseURL.configuration(url, maxConnections: 8), backgroundLogger: TestDatabase.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            let repository = DeviceRepository(
                client: client, logger: TestDatabase.logger, exchangeTimeout: exchangeTimeout)
            let tokens = (0..<count).map { _ in RefreshToken.generate() }
            let requests = tokens.enumerated().map { index, token in
                EnrollmentRequest(
                    id: "x-\(index)", fleet: "f", labelsJSON: "{}", refreshTokenHash: RefreshToken.hash(token))
            }
            #expect(try await repository.enroll(requests, now: Date()).count == count)
            try await body(repository, tokens, url)
            group.cancelAll()
        }
    }

    static func exchange(_ repository: DeviceRepository, _ token: String, now: Date = Date()) async throws
        -> RefreshExchange
    {
        try await repository.exchange(
            presentedHash: RefreshToken.hash(token), newHash: RefreshToken.hash(RefreshToken.generate()), now: now,
            grace: 60)
    }

    @Test("an exchange stuck behind a row lock is answered overloaded at its deadline; the next one works")
    func deadline() async throws {
        try await Self.run(devices: 2, exchangeTimeout: .seconds(3)) { repository, tokens, url in
            let watchdog = Task { await repository.watchdog.run() }
            defer { watchdog.cancel() }
            let locker = PostgresClient(
                configuration: try DatabaseURL.configuration(url, maxConnections: 1),
                backgroundLogger: TestDatabase.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await locker.run() }
                try await locker.withConnection { connection in
                    // Another session holds token 0's row. It lets go after 30 s, so without a
                    // deadline the exchange would rotate then, and the test fails instead of hanging.
                    // The deadline is 3 s, not less: the next exchange opens a new connection, which
                    // takes a while on a machine busy with the rest of the suite.
                    let hash = ByteBuffer(bytes: RefreshToken.hash(tokens[0]))
                    try await connection.query("BEGIN", logger: TestDatabase.logger)
                    try await connection.query(
                        "SELECT 1 FROM refresh_tokens WHERE token_hash = \(hash) FOR UPDATE",
                        logger: TestDatabase.logger)
                    let release = Task {
                        try? await Task.sleep(for: .seconds(30))
                        _ = try? await connection.query("ROLLBACK", logger: TestDatabase.logger)
                    }
                    let started = ContinuousClock.now
                    do {
                        let outcome = try await Self.exchange(repository, tokens[0])
                        Issue.record("the locked exchange answered \(outcome)")
                    } catch let error as FleetError {
                        #expect(error.code == .overloaded)
                    }
                    #expect(ContinuousClock.now - started < .seconds(15))
                    release.cancel()
                    _ = try? await connection.query("ROLLBACK", logger: TestDatabase.logger)
                }
                group.cancelAll()
            }
            // The closed connection is replaced: the next exchange rotates as usual. It opens a new
            // connection under the same 3 s deadline, which a machine busy with the rest of the
            // suite can miss; a device retries a 503, and so does this, twice.
            var next: RefreshExchange?
            for attempt in 1...3 where next == nil {
                do {
                    next = try await Self.exchange(repository, tokens[1])
                } catch let error as FleetError where error.code == .overloaded && attempt < 3 {
                    continue
                }
            }
            // An attempt can commit just as its deadline answers 503; the retry with the same token
            // is then within the grace window and gets another successor (`retried`), by design.
            switch next {
            case .rotated(let device), .retried(let device): #expect(device.id == "x-1")
            default: Issue.record("the exchange after a timeout answered \(String(describing: next))")
            }
        }
    }

    @Test("60 exchanges of different tokens at once each rotate their own device's token")
    func manyDevices() async throws {
        try await Self.run(devices: 60) { repository, tokens, url in
            let outcomes = try await withThrowingTaskGroup(of: (Int, RefreshExchange).self) { group in
                for (index, token) in tokens.enumerated() {
                    group.addTask { (index, try await Self.exchange(repository, token)) }
                }
                return try await group.reduce(into: [Int: RefreshExchange]()) { $0[$1.0] = $1.1 }
            }
            for index in tokens.indices {
                guard case .rotated(let device) = outcomes[index] else {
                    Issue.record("token \(index): \(String(describing: outcomes[index]))")
                    continue
                }
                #expect(device.id == "x-\(index)")
            }
            #expect(try await TestDatabase.scalar(url, "SELECT count(*)::int8 FROM refresh_tokens") == 120)
            #expect(
                try await TestDatabase.scalar(
                    url, "SELECT count(*)::int8 FROM refresh_tokens WHERE rotated_at IS NOT NULL")
                    == 60)
        }
    }

    @Test("one token presented 12 times at once rotates once; the others are retries within the grace window")
    func sameTokenTogether() async throws {
        try await Self.run(devices: 1) { repository, tokens, url in
            let outcomes = try await withThrowingTaskGroup(of: RefreshExchange.self) { group in
                for _ in 0..<12 { group.addTask { try await Self.exchange(repository, tokens[0]) } }
                return try await group.reduce(into: [RefreshExchange]()) { $0.append($1) }
            }
            let rotated = outcomes.filter { if case .rotated = $0 { true } else { false } }
            let retried = outcomes.filter { if case .retried = $0 { true } else { false } }
            #expect(rotated.count == 1)
            #expect(retried.count == 11)
            #expect(try await TestDatabase.scalar(url, "SELECT count(*)::int8 FROM refresh_tokens") == 13)
        }
    }

    @Test("unknown, reused and valid tokens in one batch each get their own outcome")
    func mixedBatch() async throws {
        try await Self.run(devices: 3) { repository, tokens, url in
            // Token 0 was rotated two minutes ago: presenting it now is reuse.
            #expect(
                try await Self.exchange(repository, tokens[0], now: Date().addingTimeInterval(-120)) != .invalid)
            async let reused = Self.exchange(repository, tokens[0])
            async let unknown = Self.exchange(repository, RefreshToken.generate())
            async let first = Self.exchange(repository, tokens[1])
            async let second = Self.exchange(repository, tokens[2])
            #expect(try await reused == .reused("x-0"))
            #expect(try await unknown == .invalid)
            guard case .rotated(let one) = try await first, case .rotated(let two) = try await second else {
                Issue.record("valid tokens did not rotate")
                return
            }
            #expect(one.id == "x-1" && two.id == "x-2")
            // Reuse revoked every refresh token of device x-0, the successor of the first exchange too.
            #expect(
                try await TestDatabase.scalar(
                    url, "SELECT count(*)::int8 FROM refresh_tokens WHERE device_id = 'x-0' AND NOT revoked") == 0)
        }
    }
}
