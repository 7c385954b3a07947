import CoreMetrics
import FleetAuth
import FleetCore
import Foundation
import Logging

/// Mints access tokens with the claims of API.md.
struct TokenIssuer: Sendable {
    let keyRing: KeyRing
    let issuer: String
    let deviceLifetime: Int
    let operatorLifetime: Int
    let clock: any WallClock
    let signer = TokenSigner()

    /// A device access token. `notBefore` is the device's revocation cut-off: a token issued in the
    /// same second as a revocation (or a re-enrollment after deletion) would otherwise have
    /// `iat` < cut-off and be refused by ingest, so `iat` is raised to it (within the 60 s leeway).
    func deviceToken(device: String, fleet: String, notBefore: Int64 = 0) async throws -> String {
        try deviceToken(device: device, fleet: fleet, notBefore: notBefore, key: try await keyRing.currentKey())
    }

    /// The same, signed with `key` (the ring's current key, already at hand).
    func deviceToken(device: String, fleet: String, notBefore: Int64 = 0, key: SigningKey) throws -> String {
        let now = max(Int64(clock.now().timeIntervalSince1970), notBefore)
        let claims = AccessClaims(
            iss: issuer, sub: device, aud: [TokenNames.ingestAudience], iat: now, nbf: now,
            exp: now + Int64(deviceLifetime), jti: TokenSigner.randomJTI(), fleet: fleet,
            scope: TokenNames.telemetryWrite
        )
        return try signer.sign(claims, with: key)
    }

    func operatorToken(username: String, role: OperatorRole) async throws -> String {
        let now = Int64(clock.now().timeIntervalSince1970)
        let claims = AccessClaims(
            iss: issuer, sub: username, aud: [TokenNames.adminAudience], iat: now, nbf: now,
            exp: now + Int64(operatorLifetime), jti: TokenSigner.randomJTI(), role: role.rawValue
        )
        return try signer.sign(claims, with: try await keyRing.currentKey())
    }
}
