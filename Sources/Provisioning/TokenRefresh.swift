import CoreMetrics
import FleetAuth
import FleetCore
import FleetStore
import Foundation
import Logging
import NIOCore

/// The steps of `POST /v1/token`, for both responders: `TokenFastPath` on the event loop, and
/// `ProvisioningRoutes.refresh` in the router for a request the fast path passes on. Read the
/// presented refresh token, exchange it for a new one (batched with its neighbours into one
/// statement), then sign an access token for the device.
struct TokenRefresh: Sendable {
    let devices: DeviceRepository
    let issuer: TokenIssuer
    let metrics: ProvisioningMetrics
    let clock: any WallClock
    let grace: TimeInterval
    let deviceLifetime: Int

    /// A presented refresh token, by its hash, and the one that replaces it.
    struct Exchange: Sendable {
        let presentedHash: [UInt8]
        let newToken: String
        let newHash: [UInt8]
        let now: Date
    }

    func exchange(body: ByteBuffer, contentType: String?) throws(FleetError) -> Exchange {
        let presented = try RefreshForm.parse(body, contentType: contentType)
        let newToken = RefreshToken.generate()
        return Exchange(
            presentedHash: RefreshToken.hash(presented), newToken: newToken, newHash: RefreshToken.hash(newToken),
            now: clock.now())
    }

    func run(_ exchange: Exchange) async throws -> RefreshExchange {
        try await devices.exchange(
            presentedHash: exchange.presentedHash, newHash: exchange.newHash, now: exchange.now, grace: grace)
    }

    func run(_ exchange: Exchange, completion: @escaping @Sendable (Result<RefreshExchange, any Error>) -> Void) {
        devices.exchange(
            presentedHash: exchange.presentedHash, newHash: exchange.newHash, now: exchange.now, grace: grace,
            completion: completion)
    }

    /// The answer to the exchange's outcome, signed with `key` (the ring's current key, at hand).
    /// `logger` is the request's: a reuse is logged with it.
    func answer(_ outcome: RefreshExchange, _ exchange: Exchange, key: SigningKey, logger: Logger) throws
        -> AccessTokenAnswer
    {
        let device = try issuable(outcome, logger: logger)
        let access = try issuer.deviceToken(
            device: device.id, fleet: device.fleet, notBefore: device.revokedBefore, key: key)
        return AccessTokenAnswer(accessToken: access, expiresIn: deviceLifetime, refreshToken: exchange.newToken)
    }

    /// The same, reading the ring's current key first.
    func answer(_ outcome: RefreshExchange, _ exchange: Exchange, logger: Logger) async throws
        -> AccessTokenAnswer
    {
        try answer(outcome, exchange, key: try await issuer.keyRing.currentKey(), logger: logger)
    }

    /// The device a token is issued to (counted), or the refusal the outcome means.
    private func issuable(_ outcome: RefreshExchange, logger: Logger) throws(FleetError) -> DeviceRecord {
        switch outcome {
        case .rotated(let device), .retried(let device):
            metrics.deviceTokensIssued.increment()
            return device
        case .reused(let deviceID):
            metrics.refreshReuse.increment()
            logger.warning(
                "refresh token reused; device's refresh tokens revoked", metadata: ["device_id": "\(deviceID)"])
            throw FleetError(
                .refreshTokenReused,
                "this refresh token was already exchanged; all refresh tokens of the device are revoked")
        case .deviceRevoked:
            throw FleetError(.tokenRevoked, "the device is revoked")
        case .invalid:
            throw FleetError(.invalidRefreshToken, "unknown or revoked refresh token")
        }
    }
}
