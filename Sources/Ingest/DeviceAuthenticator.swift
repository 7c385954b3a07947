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
        let token = try BearerToken.extract(from: authorization)
        let now = Int64(clock.now().timeIntervalSince1970)
        let claims: AccessClaims
        if let cached = cache.claims(for: token, now: now, leeway: verifier.rules.leeway) {
            metrics.tokenCacheHits.increment()
            claims = cached
        } else {
            metrics.tokenCacheMisses.increment()
            let parsed = try verifier.parse(token)
            var keys = jwks.keys
            if keys[parsed.kid] == nil, await jwks.refreshForUnknown(kid: parsed.kid) {
                keys = jwks.keys
            }
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
