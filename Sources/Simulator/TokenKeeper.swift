import Synchronization

/// Every virtual device's tokens: the access token posts use, the refresh token that gets the
/// next one, and when to refresh. Refreshes happen in the background, off the send path; a
/// post only reads the current `Authorization` value.
final class TokenKeeper: Sendable {
    enum Status: Sendable, Equatable {
        /// Holding a token (or waiting for the first), refreshed when `refreshAt` passes.
        case active
        /// A refresh is under way.
        case refreshing
        /// The server refused the refresh token for good (revoked, reused, unknown).
        case dead(code: String)
    }

    struct Entry: Sendable {
        var credential: DeviceCredential
        /// "Bearer <access token>", ready for the header.
        var authorization: String?
        var refreshAt: ContinuousClock.Instant
        var status: Status
    }

    struct State {
        var entries: [Entry]
        var random: SplitMix64
        /// Refresh tokens rotated so far, so the credentials file is rewritten only when one was.
        var rotations = 0
    }

    private let state: Mutex<State>
    let policy: TokenRefreshPolicy

    init(credentials: [DeviceCredential], policy: TokenRefreshPolicy, now: ContinuousClock.Instant, seed: UInt64) {
        let entries = credentials.map { Entry(credential: $0, authorization: nil, refreshAt: now, status: .active) }
        self.state = Mutex(State(entries: entries, random: SplitMix64(seed: seed)))
        self.policy = policy
    }

    /// The `Authorization` value for device `index`, nil before its first token.
    func authorization(for index: Int) -> String? {
        state.withLock { $0.entries[index].authorization }
    }

    /// Devices whose refresh is due at `now`, marked as refreshing, with their refresh tokens.
    func takeDue(now: ContinuousClock.Instant) -> [(index: Int, refreshToken: String)] {
        state.withLock { state in
            var due: [(Int, String)] = []
            for index in state.entries.indices
            where state.entries[index].status == .active && state.entries[index].refreshAt <= now {
                state.entries[index].status = .refreshing
                due.append((index, state.entries[index].credential.refreshToken))
            }
            return due
        }
    }

    /// Stores a new grant; the next refresh is due at the policy's share of its lifetime.
    func complete(index: Int, grant: TokenGrant, now: ContinuousClock.Instant) {
        state.withLock { state in
            let delay = policy.refreshDelay(expiresIn: .seconds(grant.expiresIn), using: &state.random)
            state.entries[index].authorization = "Bearer " + grant.accessToken
            if let rotated = grant.refreshToken, rotated != state.entries[index].credential.refreshToken {
                state.entries[index].credential.refreshToken = rotated
                state.rotations += 1
            }
            state.entries[index].refreshAt = now + delay
            state.entries[index].status = .active
        }
    }

    /// A refresh failed: try again later when transient, else give the device's refresh up.
    /// The last access token stays, so a revoked device keeps posting and hears `token_revoked`.
    func fail(index: Int, problem: ProblemAnswer, now: ContinuousClock.Instant) {
        state.withLock { state in
            if problem.isTransient {
                state.entries[index].refreshAt = now + (problem.retryAfter ?? policy.retryDelay)
                state.entries[index].status = .active
            } else {
                state.entries[index].status = .dead(code: problem.code)
            }
        }
    }

    /// Asks for a refresh at once (the server said `token_expired`).
    func refreshSoon(index: Int, now: ContinuousClock.Instant) {
        state.withLock { state in
            if state.entries[index].status == .active {
                state.entries[index].refreshAt = min(state.entries[index].refreshAt, now)
            }
        }
    }

    /// Devices holding an access token.
    var devicesWithToken: Int {
        state.withLock { $0.entries.lazy.filter { $0.authorization != nil }.count }
    }

    /// The credentials with their newest refresh tokens, to be written back to the file.
    var credentials: [DeviceCredential] {
        state.withLock { $0.entries.map(\.credential) }
    }

    /// The credentials together with the rotations they include, read at one instant.
    var rotatedCredentials: (rotations: Int, credentials: [DeviceCredential]) {
        state.withLock { ($0.rotations, $0.entries.map(\.credential)) }
    }

    /// Refreshes every due device, at most `concurrency` at a time, and returns when all are done.
    func refreshDue(using client: FleetgateClient, statistics: RunStatistics, concurrency: Int) async {
        let clock = ContinuousClock()
        let due = takeDue(now: clock.now)
        guard !due.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            var next = due.makeIterator()
            func addNext() -> Bool {
                guard let (index, refreshToken) = next.next() else { return false }
                group.addTask {
                    do throws(ProblemAnswer) {
                        let grant = try await client.token(refreshToken: refreshToken)
                        self.complete(index: index, grant: grant, now: clock.now)
                        statistics.recordTokenRefresh(failureCode: nil)
                    } catch {
                        self.fail(index: index, problem: error, now: clock.now)
                        statistics.recordTokenRefresh(failureCode: error.code)
                    }
                }
                return true
            }
            for _ in 0..<concurrency where !addNext() { break }
            while await group.next() != nil {
                _ = addNext()
            }
        }
    }

    /// Refreshes due tokens every `interval` until cancelled.
    func keepFresh(using client: FleetgateClient, statistics: RunStatistics, interval: Duration = .milliseconds(250))
        async
    {
        while !Task.isCancelled {
            await refreshDue(using: client, statistics: statistics, concurrency: 32)
            try? await Task.sleep(for: interval)
        }
    }
}
