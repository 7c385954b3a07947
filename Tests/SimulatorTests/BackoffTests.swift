import Testing

@testable import Simulator

@Suite("Retry backoff")
struct BackoffTests {
    @Test("the jitter window doubles per failure up to the cap")
    func window() {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(1), maxAttempts: 8)
        #expect(backoff.window(afterFailedAttempts: 1) == .milliseconds(100))
        #expect(backoff.window(afterFailedAttempts: 2) == .milliseconds(200))
        #expect(backoff.window(afterFailedAttempts: 4) == .milliseconds(800))
        #expect(backoff.window(afterFailedAttempts: 5) == .seconds(1))
        #expect(backoff.window(afterFailedAttempts: 60) == .seconds(1))
    }

    @Test("full jitter: delays spread over the whole window")
    func fullJitter() {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(10))
        var random = SplitMix64(seed: 42)
        let delays = (0..<1000).map { _ in backoff.delay(afterFailedAttempts: 3, retryAfter: nil, using: &random) }
        #expect(delays.allSatisfy { $0 >= .zero && $0 <= .milliseconds(400) })
        #expect(delays.contains { $0 < .milliseconds(50) })
        #expect(delays.contains { $0 > .milliseconds(350) })
    }

    @Test("Retry-After is honoured: never sooner, and still jittered")
    func retryAfter() {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(10))
        var random = SplitMix64(seed: 7)
        let delays = (0..<200).map { _ in backoff.delay(afterFailedAttempts: 1, retryAfter: .seconds(2), using: &random)
        }
        #expect(delays.allSatisfy { $0 >= .seconds(2) && $0 <= .milliseconds(2100) })
        #expect(Set(delays).count > 100)
    }

    @Test("gives up after maxAttempts")
    func attempts() {
        let backoff = Backoff(maxAttempts: 3)
        #expect(backoff.shouldRetry(afterFailedAttempts: 1))
        #expect(backoff.shouldRetry(afterFailedAttempts: 2))
        #expect(!backoff.shouldRetry(afterFailedAttempts: 3))
    }

    @Test("retries 429, 503, timeouts and lost connections; nothing else")
    func retryable() {
        #expect(AttemptOutcome.problem(status: 429, code: "rate_limited", retryAfter: .seconds(1)).isRetryable)
        #expect(AttemptOutcome.problem(status: 503, code: "overloaded", retryAfter: nil).isRetryable)
        #expect(AttemptOutcome.timeout.isRetryable)
        #expect(AttemptOutcome.connectionError().isRetryable)
        #expect(!AttemptOutcome.problem(status: 400, code: "bad_payload", retryAfter: nil).isRetryable)
        #expect(!AttemptOutcome.problem(status: 401, code: "token_revoked", retryAfter: nil).isRetryable)
        #expect(!AttemptOutcome.accepted(records: 4, duplicate: false).isRetryable)
    }
}
