import CoreMetrics
import FleetAuth
import FleetCore
import Foundation

/// Authenticates a device post with no database round trip: verified-token cache, then RS256
/// verification with the JWKS keys (one rate-limited refresh on an unknown kid), then the
/// revocation view and the scope.
struct DeviceAuthenticator: Sendable {
    let verifier: TokenVerifier
    let cache: VerifiedTokenCache
    let jwks: JWKSSource
    let revocations: RevocationView
    let clock: any WallClock
    let metrics: IngestMetrics

    func authenticate(authorization: [String]) async throws(FleetError) -> AccessClaims {
        if let claims = try authenticateWithKnownKeys(authorization: authorization) { return claims }
        let kid = try verifier.parse(BearerToken.extract(from: authorization)).kid
        _ = await jwks.refreshForUnknown(kid: kid)
        guard let claims = try authenticateWithKnownKeys(authorization: authorization, afterRefresh: true) else {
            throw FleetError(.internalError, "authentication after a key refresh gave no answer")
        }
        return claims
    }

    /// Without suspending: nil when the token names a key this node does not have, and
    /// `afterRefresh` is false (the caller refreshes the keys, at most once per interval, and asks
    /// again with `afterRefresh: true`, which answers or throws).
    func authenticateWithKnownKeys(authorization: [String], afterRefresh: Bool = false) throws(FleetError)
        -> AccessClaims?
    {
        let token = try BearerToken.extract(from: authorization)
        let now = Int64(clock.now().timeIntervalSince1970)
        let claims: AccessClaims
        if let cached = cache.claims(for: token, now: now, leeway: verifier.rules.leeway) {
            metrics.tokenCacheHits.increment()
            claims = cached
        } else {
            let parsed = try verifier.parse(token)
            let keys = jwks.keys
            if keys[parsed.kid] == nil, !afterRefresh { return nil }
            metrics.tokenCacheMisses.increment()
            try verifier.checkSignature(parsed, keys: keys)
            try verifier.checkClaims(parsed.claims, now: now)
            claims = parsed.claims
            // Only fully verified tokens are cached; a failure is never remembered as a success.
            cache.insert(token, claims: claims, now: now)
        }
        guard DeviceID.isValid(claims.sub) else { throw FleetError(.tokenMalformed, "sub is not a device id") }
        if revocations.isRevoked(device: claims.sub, issuedAt: claims.iat) {
            throw FleetError(.tokenRevoked, "the device or this token was revoked")
        }
        guard claims.hasScope(TokenNames.telemetryWrite) else {
            throw FleetError(.insufficientScope, "the token lacks scope \(TokenNames.telemetryWrite)")
        }
        return claims
    }
}
