import FleetAuth
import FleetCore
import FleetStore
import Foundation
import Logging

/// What the `rotate-keys` and `import-key` commands do, outside a running service: make a key
/// current in the shared key ring. Here rather than in the executable, so tests run it as it is.
public enum SigningKeyInstallation {
    /// Applies pending migrations, then makes `key` current; the previous key stays published for
    /// `configuration.retiredKeyPublishSeconds`, as after `POST /v1/keys/rotate`. Throws
    /// `conflict`, changing nothing, when the kid is already in the ring. Running services pick the
    /// key up within their key ring's refresh interval.
    public static func install(
        _ key: SigningKey, configuration: ProvisioningConfiguration, logger: Logger, now: Date = Date()
    ) async throws {
        let encryption = try KeyEncryption(base64: configuration.keyEncryptionKey)
        try await withDatabase(url: configuration.databaseURL, logger: logger) { client in
            try await Migrator(client: client, logger: logger).migrate()
            try await SigningKeyRepository(client: client, encryption: encryption, logger: logger)
                .makeCurrent(key, publishOldFor: configuration.retiredKeyPublishSeconds, now: now)
        }
    }
}
