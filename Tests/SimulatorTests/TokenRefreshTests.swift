import Testing

@testable import Simulator

@Suite("Token refresh timing")
struct TokenRefreshTests {
    @Test("refreshes at about 80 % of the lifetime, always before expiry")
    func beforeExpiry() {
        let policy = TokenRefreshPolicy()
        var random = SplitMix64(seed: 1)
        for lifetime in [60, 300, 3600, 86_400] {
            for _ in 0..<200 {
                let delay = policy.refreshDelay(expiresIn: .seconds(lifetime), using: &random)
                #expect(delay < .seconds(lifetime))
                #expect(delay >= .seconds(Double(lifetime) * 0.75))
                #expect(delay <= .seconds(Double(lifetime) * 0.85))
            }
        }
    }

    @Test("without jitter, exactly the fraction")
    func exact() {
        let policy = TokenRefreshPolicy(fraction: 0.8, jitter: 0)
        var random = SplitMix64(seed: 1)
        #expect(policy.refreshDelay(expiresIn: .seconds(3600), using: &random) == .seconds(2880))
        #expect(policy.refreshDelay(expiresIn: .zero, using: &random) == policy.minimumDelay)
    }

    @Test("the keeper hands out due devices once, stores rotated tokens, and schedules the next refresh")
    func keeper() {
        let clock = ContinuousClock()
        let start = clock.now
        let credentials = [
            DeviceCredential(id: "d1", fleet: "f", refreshToken: "r1"),
            DeviceCredential(id: "d2", fleet: "f", refreshToken: "r2"),
        ]
        let keeper = TokenKeeper(
            credentials: credentials, policy: TokenRefreshPolicy(fraction: 0.8, jitter: 0), now: start, seed: 1)
        let due = keeper.takeDue(now: start)
        #expect(due.map(\.index) == [0, 1])
        #expect(keeper.takeDue(now: start).isEmpty, "a refresh under way is not handed out twice")

        keeper.complete(index: 0, grant: TokenGrant(accessToken: "a1", expiresIn: 100, refreshToken: "r1b"), now: start)
        #expect(keeper.authorization(for: 0) == "Bearer a1")
        #expect(keeper.credentials[0].refreshToken == "r1b", "refresh tokens rotate")
        #expect(keeper.takeDue(now: start + .seconds(79)).isEmpty)
        #expect(keeper.takeDue(now: start + .seconds(80)).map(\.refreshToken) == ["r1b"])

        // A transient failure is retried later; a refusal ends refreshing but keeps the last token.
        keeper.fail(
            index: 1, problem: ProblemAnswer(status: 503, code: "overloaded", retryAfter: .seconds(3)), now: start)
        #expect(keeper.takeDue(now: start + .seconds(2)).isEmpty)
        #expect(keeper.takeDue(now: start + .seconds(3)).map(\.index) == [1])
        keeper.fail(index: 1, problem: ProblemAnswer(status: 401, code: "token_revoked"), now: start)
        #expect(keeper.takeDue(now: start + .seconds(1000)).isEmpty, "device 0 is mid-refresh, device 1 is refused")
    }
}
