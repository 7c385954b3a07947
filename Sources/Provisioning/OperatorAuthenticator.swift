import CoreMetrics
import FleetAuth
import FleetCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Who may call which control-plane endpoint (API.md, provisioning table).
public enum Permission: Sendable, CaseIterable {
    /// Any role: reads.
    case read
    /// operator or admin: enroll, revoke, re-issue.
    case manageDevices
    /// admin only: operators, deletion, key rotation.
    case administer

    func allows(_ role: OperatorRole) -> Bool {
        switch self {
        case .read: return true
        case .manageDevices: return role == .admin || role == .operator
        case .administer: return role == .admin
        }
    }
}

/// Verifies operator tokens with the node's own published keys and checks the role.
struct OperatorAuthenticator: Sendable {
    let keyRing: KeyRing
    let verifier: TokenVerifier
    let clock: any WallClock

    /// The operator's claims when the request carries a valid operator token with the permission.
    func authorize(_ request: Request, _ permission: Permission) async throws -> AccessClaims {
        let token = try BearerToken.extract(from: request.headers[values: .authorization])
        let parsed = try verifier.parse(token)
        var keys = try await keyRing.verificationKeys()
        if keys[parsed.kid] == nil, try await keyRing.reloadForUnknownKey() {
            keys = try await keyRing.verificationKeys()
        }
        try verifier.checkSignature(parsed, keys: keys)
        try verifier.checkClaims(parsed.claims, now: Int64(clock.now().timeIntervalSince1970))
        guard let roleName = parsed.claims.role, let role = OperatorRole(rawValue: roleName) else {
            throw FleetError(.insufficientScope, "not an operator token")
        }
        guard permission.allows(role) else {
            throw FleetError(.insufficientScope, "role \(role.rawValue) may not do this")
        }
        return parsed.claims
    }
}
