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
    /// Longest a call waits for a database connection before it is answered 503.
    let leaseTimeout: Duration

    public init(
        client: PostgresClient, encryption: KeyEncryption, logger: Logger, leaseTimeout: Duration = .seconds(5)
    ) {
        self.client = client
        self.encryption = encryption
        self.logger = logger
        self.leaseTimeout = leaseTimeout
    }

    /// The current signing key; creates one when the ring is empty. Replicas racing here agree:
    /// the unique index on the current key lets one insert win and everyone reads the winner.
    public func currentKey() async throws -> SigningKey {
        if let key = try await loadCurrent() { return key }
        try await insertFirst(try SigningKey.generate(), now: Date())
        guard let key = try await loadCurrent() else { throw FleetError(.internalError, "no current signing key") }
        return key
    }

    func loadCurrent() async throws -> SigningKey? {
        let rows = try await client.withConnection(leaseTimeout: leaseTimeout) { connection in
            try await connection.query(
                "SELECT kid, private_sealed FROM signing_keys WHERE retired_at IS NULL", logger: logger
            ).collect()
        }
        for row in rows {
            let (kid, sealed) = try row.decode((String, ByteBuffer).self)
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

    /// Stores the first key of an empty ring; inserts nothing when another replica's first key won.
    func insertFirst(_ key: SigningKey, now: Date) async throws {
        let row = try KeyRow(key, encryption: encryption)
        try await client.withConnection(leaseTimeout: leaseTimeout) { connection in
            try await connection.query(
                """
                INSERT INTO signing_keys (kid, private_sealed, public_n, public_e, created_at)
                VALUES (\(key.kid), \(row.sealed), \(row.n), \(row.e), \(now))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }

    /// Makes `key` current in one transaction; the previous key is retired and stays published for
    /// `publishOldFor` seconds (the longest token lifetime plus leeway). Throws `invalid_request` for
    /// a kid `KeyID.isValid` refuses and `conflict` when the kid is already in the ring (current or
    /// retired) or another key became current meanwhile; then nothing changed and the previous key
    /// is still current. (Inserting nothing while the old key was retired would leave the ring empty,
    /// and the next `currentKey()` would quietly generate a key nobody asked for.)
    public func makeCurrent(_ key: SigningKey, publishOldFor seconds: Int, now: Date) async throws {
        try KeyID.validate(key.kid)
        // The new key is sealed with this repository's key-encryption key. `rotate-keys` run with
        // another one (a typo, the wrong vault entry) used to succeed, and then no replica with the
        // real key-encryption key could load the ring: prove the key opens the current key first.
        do {
            _ = try await loadCurrent()
        } catch let error as FleetError where error.code == .internalError {
            throw FleetError(
                .invalidRequest,
                "the key-encryption key given does not open the key ring's current signing key; nothing changed (\(error.detail))"
            )
        }
        let row = try KeyRow(key, encryption: encryption)
        let publishUntil = now.addingTimeInterval(TimeInterval(seconds))
        do {
            try await client.withTransaction(leaseTimeout: leaseTimeout, logger: logger) { connection in
                try await connection.query(
                    "UPDATE signing_keys SET retired_at = \(now), publish_until = \(publishUntil) WHERE retired_at IS NULL",
                    logger: logger
                )
                // DO NOTHING rather than an error, so the cause can be told apart below.
                let inserted = try await connection.query(
                    """
                    INSERT INTO signing_keys (kid, private_sealed, public_n, public_e, created_at)
                    VALUES (\(key.kid), \(row.sealed), \(row.n), \(row.e), \(now))
                    ON CONFLICT DO NOTHING RETURNING kid
                    """,
                    logger: logger
                ).collect()
                guard inserted.isEmpty else { return }
                let existing =
                    try await connection.query(
                        "SELECT count(*)::int8 FROM signing_keys WHERE kid = \(key.kid)", logger: logger
                    ).collect().first?.decode(Int.self) ?? 0
                // Thrown, not returned: the transaction must roll the retirement back.
                if existing > 0 {
                    throw FleetError(.conflict, "signing key \(key.kid) is already in the key ring; choose another kid")
                }
                throw FleetError(.conflict, "another signing key became current at the same time; retry")
            }
        } catch let error as PostgresTransactionError {
            // Rolled back: report the reason, not postgres-nio's wrapper around it.
            if let reason = error.closureError as? FleetError, error.rollbackError == nil { throw reason }
            throw error
        }
    }

    /// Every key whose tokens may still be live: the current one and retired ones still published.
    public func publishedKeys(now: Date) async throws -> JWKSDocument {
        try await client.withConnection(leaseTimeout: leaseTimeout) { connection in
            let rows = try await connection.query(
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
}

/// The stored form of a key: the private part sealed under the key-encryption key (kid as
/// associated data), the public part as JWK members.
private struct KeyRow {
    let sealed: ByteBuffer
    let n: String
    let e: String

    init(_ key: SigningKey, encryption: KeyEncryption) throws {
        sealed = ByteBuffer(bytes: try encryption.seal(key.privateKeyDER, kid: key.kid))
        let jwk = key.publicJWK
        (n, e) = (jwk.n, jwk.e)
    }
}
