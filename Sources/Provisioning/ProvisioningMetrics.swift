import CoreMetrics
import FleetAuth
import Logging

/// Control-plane metrics, created once with fixed labels.
struct ProvisioningMetrics: Sendable {
    let loginSuccess: Counter
    let loginFailure: Counter
    let loginThrottled: Counter
    let deviceTokensIssued: Counter
    let operatorTokensIssued: Counter
    let enrollments: Counter
    let revocations: Counter
    let keyRotations: Counter
    let refreshReuse: Counter

    init(factory: any MetricsFactory) {
        loginSuccess = Counter(label: "fleetgate_logins_total", dimensions: [("outcome", "success")], factory: factory)
        loginFailure = Counter(label: "fleetgate_logins_total", dimensions: [("outcome", "failure")], factory: factory)
        loginThrottled = Counter(
            label: "fleetgate_logins_total", dimensions: [("outcome", "throttled")], factory: factory)
        deviceTokensIssued = Counter(
            label: "fleetgate_tokens_issued_total", dimensions: [("kind", "device")], factory: factory)
        operatorTokensIssued = Counter(
            label: "fleetgate_tokens_issued_total", dimensions: [("kind", "operator")], factory: factory)
        enrollments = Counter(label: "fleetgate_enrollments_total", dimensions: [], factory: factory)
        revocations = Counter(label: "fleetgate_revocations_total", dimensions: [], factory: factory)
        keyRotations = Counter(label: "fleetgate_key_rotations_total", dimensions: [], factory: factory)
        refreshReuse = Counter(label: "fleetgate_refresh_token_reuse_total", dimensions: [], factory: factory)
    }
}
