import FleetAuth
import FleetCore
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The shared key ring: private parts sealed under the key-encryption key, public parts plain.
public struct SigningKeyRepository: Sendable {
    let client: PostgresClient
    let encryption: KeyEncryption
    let logger: Logger

    public init(client: PostgresClient, encryption: KeyEncryption, logger: Logger) {
        self.client = client
        self.encryption = encryption
        self.logger = logger
    }

    /// The current signing key; creates one when the ring is empty. Replicas racing here agree:
    /// the unique index on the current key lets one insert win and everyone reads the winner.
    public func currentKey() async throws -> SigningKey {
        if let key = try await loadCurrent() { return key }
        let fresh = try SigningKey.generate()
        try await insert(fresh, retireCurrent: false, publishOldFor: 0, now: Date())
        guard let key = try await loadCurrent() else { throw FleetError(.internalError, "no current signing key") }
        return key
    }

    func loadCurrent() async throws -> SigningKey? {
        let rows = try await client.query(
            "SELECT kid, private_sealed FROM signing_keys WHERE retired_at IS NULL", logger: logger
        )
        for try await (kid, sealed) in rows.decode((String, ByteBuffer).self) {
            let der: Data
            do {
                der = try encryption.open(Data(sealed.readableBytesView), kid: kid)
            } catch {
                throw FleetError(
                    .internalError,
                    "signing key \(kid) cannot be decrypted: the key-encryption key differs from the one it was sealed with"
                )
            }
            return try SigningKey(kid: kid, privateKeyDER: der)
        }
        return nil
    }

    /// Makes `key` current. With `retireCurrent`, the previous key is retired and stays published for
    /// `publishOldFor` seconds (the longest token lifetime plus leeway).
    public func insert(_ key: SigningKey, retireCurrent: Bool, publishOldFor seconds: Int, now: Date) async throws {
        let sealed = ByteBuffer(bytes: try encryption.seal(key.privateKeyDER, kid: key.kid))
        let jwk = key.publicJWK
        let publishUntil = now.addingTimeInterval(TimeInterval(seconds))
        try await client.withTransaction(logger: logger) { connection in
            if retireCurrent {
                try await connection.query(
                    "UPDATE signing_keys SET retired_at = \(now), publish_until = \(publishUntil) WHERE retired_at IS NULL",
                    logger: logger
                )
            }
            try await connection.query(
                """
                INSERT INTO signing_keys (kid, private_sealed, public_n, public_e, created_at)
                VALUES (\(key.kid), \(sealed), \(jwk.n), \(jwk.e), \(now))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }

    /// Every key whose tokens may still be live: the current one and retired ones still published.
    public func publishedKeys(now: Date) async throws -> JWKSDocument {
        let rows = try await client.query(
            """
            SELECT kid, public_n, public_e FROM signing_keys
            WHERE retired_at IS NULL OR publish_until > \(now) ORDER BY created_at DESC
            """,
            logger: logger
        )
        var keys: [PublicJWK] = []
        for try await (kid, n, e) in rows.decode((String, String, String).self) {
            keys.append(PublicJWK(kid: kid, n: n, e: e))
        }
        return JWKSDocument(keys: keys)
    }
}
