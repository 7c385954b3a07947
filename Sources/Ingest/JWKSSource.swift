import AsyncHTTPClient
import FleetAuth
import FleetCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// The public keys ingest verifies with: fetched from the provisioning JWKS URL (or a file) at
/// start, refreshed every `refreshInterval`, and at once on an unknown kid, at most once per
/// `unknownKidInterval`. When provisioning is down the keys already held keep working, and the
/// retries back off (`JWKSRefreshSchedule`).
public final class JWKSSource: Service {
    private struct State {
        var keys = PublicKeySet(JWKSDocument(keys: []))
        var lastUnknownKidRefresh: ContinuousClock.Instant?
        /// The unknown-kid refresh under way, which every other unknown-kid request awaits.
        var unknownKidRefresh: Task<Void, Never>?
        var schedule: JWKSRefreshSchedule
        var loaded = false
    }

    private let url: String?
    private let file: String?
    private let refreshInterval: Duration
    private let unknownKidInterval: Duration
    private let logger: Logger
    private let onRefresh: @Sendable (Bool) -> Void
    private let onKeysRemoved: @Sendable (Set<String>) -> Void
    private let state: Mutex<State>

    /// `onKeysRemoved` gets the kids a refresh no longer lists: tokens they signed must stop
    /// verifying, including those the verified-token cache holds.
    public init(
        url: String?, file: String?, refreshInterval: Duration, unknownKidInterval: Duration, logger: Logger,
        onRefresh: @escaping @Sendable (Bool) -> Void = { _ in },
        onKeysRemoved: @escaping @Sendable (Set<String>) -> Void = { _ in }
    ) {
        self.onKeysRemoved = onKeysRemoved
        self.url = url
        self.file = file
        self.refreshInterval = refreshInterval
        self.unknownKidInterval = unknownKidInterval
        self.logger = logger
        self.onRefresh = onRefresh
        self.state = Mutex(State(schedule: JWKSRefreshSchedule(refreshInterval: refreshInterval)))
    }

    /// Whether keys fetched from `url` could be swapped on the way: plain http to a host other
    /// than this machine. Whoever controls the keys controls which tokens verify.
    public static func isExposed(url: String) -> Bool {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "http" else {
            return false
        }
        let host = (components.host ?? "").lowercased()
        return !(host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127."))
    }

    public var keys: PublicKeySet { state.withLock { $0.keys } }
    public var isLoaded: Bool { state.withLock { $0.loaded } }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // Due as JWKSRefreshSchedule says, counting every refresh, whoever made it
                // (start-up, an unknown kid): the service may start before the start-up load, and
                // must not fetch again right after it. The floor only guards against a busy loop.
                let wait = self.dueIn().map { max($0, .milliseconds(100)) } ?? .seconds(1)
                try? await Task.sleep(for: wait)
                if Task.isCancelled { return }
                if let due = self.dueIn(), due > .zero { continue }
                await self.refresh()
            }
        }
    }

    /// Time until the next periodic refresh is due; nil before any refresh was tried.
    private func dueIn() -> Duration? {
        state.withLock { state in state.schedule.nextRefresh.map { $0 - ContinuousClock.now } }
    }

    /// Fetches the key set now; keeps the old keys on failure. Returns whether it succeeded.
    @discardableResult
    public func refresh() async -> Bool {
        do {
            var document = JWKSDocument(keys: [])
            if let file {
                let data = try Data(contentsOf: URL(fileURLWithPath: file))
                document.keys += try JSONDecoder().decode(JWKSDocument.self, from: data).keys
            }
            if let url {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Accept", value: "application/json")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
                guard response.status == .ok else {
                    throw FleetError(.internalError, "JWKS answered \(response.status.code)")
                }
                let body = try await response.body.collect(upTo: 1 << 20)
                document.keys += try JSONDecoder().decode(JWKSDocument.self, from: Data(body.readableBytesView)).keys
            }
            let keys = PublicKeySet(document)
            guard !keys.isEmpty else { throw FleetError(.internalError, "the JWKS has no RS256 signing key") }
            let (failuresEnded, removed) = state.withLock {
                let removed = $0.keys.kids.subtracting(keys.kids)
                $0.keys = keys
                $0.loaded = true
                return ($0.schedule.succeeded(at: ContinuousClock.now), removed)
            }
            onRefresh(true)
            if !removed.isEmpty {
                logger.notice(
                    "signing keys left the JWKS; their tokens are refused from now on",
                    metadata: ["kids": "\(removed.sorted())"])
                onKeysRemoved(removed)
            }
            if failuresEnded > 0 {
                logger.info("JWKS refresh succeeded again", metadata: ["failures": "\(failuresEnded)"])
            }
            return true
        } catch {
            let (log, failures, retryIn) = state.withLock {
                let log = $0.schedule.failed(at: ContinuousClock.now)
                return (log, $0.schedule.failuresInARow, $0.schedule.retryDelay)
            }
            onRefresh(false)
            // Every attempt counts in fleetgate_jwks_refreshes_total; the log gets one line a streak
            // and one a minute after it, not one per attempt.
            if log {
                logger.warning(
                    "JWKS refresh failed; keeping the keys held",
                    metadata: [
                        "error": "\(String(describing: error).prefix(200))", "failures": "\(failures)",
                        "retry_in": "\(retryIn)",
                    ])
            }
            return false
        }
    }

    /// Refreshes for an unknown kid unless one such refresh started within `unknownKidInterval`.
    /// Single-flight: a request arriving while that refresh runs awaits it instead of failing, so
    /// the first posts signed with a freshly rotated key, arriving together, all get the new key.
    /// Returns whether the kid is known afterwards.
    public func refreshForUnknown(kid: String) async -> Bool {
        let refresh = state.withLock { state -> Task<Void, Never>? in
            if let running = state.unknownKidRefresh { return running }
            let now = ContinuousClock.now
            if let last = state.lastUnknownKidRefresh, now - last < unknownKidInterval { return nil }
            state.lastUnknownKidRefresh = now
            let task = Task {
                await self.refresh()
                self.state.withLock { $0.unknownKidRefresh = nil }
            }
            state.unknownKidRefresh = task
            return task
        }
        await refresh?.value
        return keys[kid] != nil
    }
}
