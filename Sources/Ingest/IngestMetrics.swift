import CoreMetrics
import FleetCore

/// Data-plane metrics, created once with fixed labels.
struct IngestMetrics: Sendable {
    let accepted: Counter
    let recordsAccepted: Counter
    let duplicates: Counter
    let rejected: [String: Counter]
    let tokenCacheHits: Counter
    let tokenCacheMisses: Counter
    let jwksRefreshOK: Counter
    let jwksRefreshFailed: Counter
    let revocationsApplied: Counter

    init(factory: any MetricsFactory) {
        accepted = Counter(
            label: "fleetgate_ingest_requests_total", dimensions: [("status", "200"), ("code", "ok")], factory: factory)
        duplicates = Counter(
            label: "fleetgate_ingest_requests_total", dimensions: [("status", "200"), ("code", "duplicate")],
            factory: factory)
        var rejected: [String: Counter] = [:]
        for code in FleetError.Code.all {
            rejected[code.rawValue] = Counter(
                label: "fleetgate_ingest_requests_total",
                dimensions: [("status", "\(code.status)"), ("code", code.rawValue)],
                factory: factory
            )
        }
        self.rejected = rejected
        recordsAccepted = Counter(label: "fleetgate_ingest_records_accepted_total", dimensions: [], factory: factory)
        tokenCacheHits = Counter(
            label: "fleetgate_token_cache_total", dimensions: [("result", "hit")], factory: factory)
        tokenCacheMisses = Counter(
            label: "fleetgate_token_cache_total", dimensions: [("result", "miss")], factory: factory)
        jwksRefreshOK = Counter(
            label: "fleetgate_jwks_refreshes_total", dimensions: [("outcome", "ok")], factory: factory)
        jwksRefreshFailed = Counter(
            label: "fleetgate_jwks_refreshes_total", dimensions: [("outcome", "failed")], factory: factory)
        revocationsApplied = Counter(label: "fleetgate_revocations_applied_total", dimensions: [], factory: factory)
    }

    func rejected(_ code: FleetError.Code) {
        rejected[code.rawValue]?.increment()
    }
}
