import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Provisioning
import Testing

/// `rotate-keys` and `import-key` run `SigningKeyInstallation.install` against the database of a
/// running provisioning application, which picks the key up after its key ring's 10 s cache.
@Suite("Signing keys installed from the command line: rotate-keys and import-key")
struct SigningKeyInstallationTests {
    static let adminVerifier = TokenVerifier(rules: VerificationRules(issuer: "fleetgate", audience: "fleetgate-admin"))
    static let deviceVerifier = TokenVerifier(
        rules: VerificationRules(issuer: "fleetgate", audience: "fleetgate-ingest"))

    /// A key as `import-key` reads it: PKCS#1 PEM, what `openssl genrsa -traditional` writes.
    static func pem(_ key: SigningKey) -> String {
        let base64 = key.privateKeyDER.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN RSA PRIVATE KEY-----\n\(base64)\n-----END RSA PRIVATE KEY-----\n"
    }

    static func install(_ key: SigningKey, _ h: ProvisioningHarness) async throws {
        try await SigningKeyInstallation.install(
            key, configuration: TestConfigurations.provisioning(databaseURL: h.databaseURL),
            logger: TestDatabase.logger, now: h.clock.now())
    }

    /// Logs in until the token is signed with `kid`. The key ring re-reads the ring at most every
    /// 10 s and waits at most 2 s for that read; on a machine busy with the whole suite the read
    /// can take longer, and the ring then serves the keys it had for another second (by design,
    /// KeyRing.retryAfterFailure), so the clock is moved past that and the login tried again.
    static func login(signedWith kid: String, _ h: ProvisioningHarness) async throws -> String {
        var token = try await h.login()
        for _ in 0..<5 where try ProvisioningHarness.kid(token) != kid {
            h.clock.advance(by: 2)
            try await Task.sleep(for: .milliseconds(200))
            token = try await h.login()
        }
        return token
    }

    /// The current kid, read from the database.
    static func currentKid(_ h: ProvisioningHarness) async throws -> String {
        try await h.scalarText("SELECT kid FROM signing_keys WHERE retired_at IS NULL")
    }

    @Test("rotate-keys with another key-encryption key is refused and changes nothing")
    func wrongKeyEncryptionKey() async throws {
        try await ProvisioningHarness.run { h in
            let before = try await Self.currentKid(h)
            var configuration = TestConfigurations.provisioning(databaseURL: h.databaseURL)
            configuration.keyEncryptionKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            do {
                try await SigningKeyInstallation.install(
                    try SigningKey.generate(), configuration: configuration, logger: TestDatabase.logger,
                    now: h.clock.now())
                Issue.record("a key sealed with the wrong key-encryption key was installed")
            } catch let error as FleetError {
                #expect(error.code == .invalidRequest)
                #expect(error.detail.contains("does not open the key ring's current signing key"), "\(error.detail)")
            }
            #expect(try await Self.currentKid(h) == before)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM signing_keys") == 1)
            h.clock.advance(by: 11)
            _ = try await h.login()  // the ring still loads with the service's own key
        }
    }

    @Test("import-key makes the key current; tokens signed with it verify against the JWKS")
    func importKey() async throws {
        try await ProvisioningHarness.run { h in
            let before = try await h.login()
            let oldKid = try ProvisioningHarness.kid(before)
            let key = try SigningKey.importPEM(Self.pem(try SigningKey.generate()), kid: "imported-2025_01")
            try await Self.install(key, h)
            #expect(try await Self.currentKid(h) == "imported-2025_01")

            h.clock.advance(by: 11)  // past the key ring's cache
            let after = try await Self.login(signedWith: "imported-2025_01", h)
            #expect(try ProvisioningHarness.kid(after) == "imported-2025_01")
            let device = try #require(try await h.enroll("imp-1", token: after)["access_token"] as? String)
            #expect(try ProvisioningHarness.kid(device) == "imported-2025_01")

            let jwks = try await h.jwks()
            #expect(Set(jwks.keys.map(\.kid)) == [oldKid, "imported-2025_01"])
            // The published key is the imported key's public half, not a fresh one.
            #expect(jwks.keys.first { $0.kid == "imported-2025_01" } == key.publicJWK)
            let keys = PublicKeySet(jwks)
            let now = Int64(h.clock.now().timeIntervalSince1970)
            #expect(try Self.adminVerifier.verify(after, keys: keys, now: now).sub == "admin")
            #expect(try Self.adminVerifier.verify(before, keys: keys, now: now).sub == "admin")
            #expect(try Self.deviceVerifier.verify(device, keys: keys, now: now).sub == "imp-1")
        }
    }

    @Test("import-key with a kid already in the ring fails with conflict and leaves the current key current")
    func duplicateKid() async throws {
        try await ProvisioningHarness.run { h in
            try await Self.install(try SigningKey.importPEM(Self.pem(try SigningKey.generate()), kid: "dup"), h)
            let current = try SigningKey.generate()
            try await Self.install(current, h)  // "dup" is retired now, still published
            let stranger = Self.pem(try SigningKey.generate())
            // A retired kid and the current kid alike.
            for kid in ["dup", current.kid] {
                do {
                    try await Self.install(try SigningKey.importPEM(stranger, kid: kid), h)
                    Issue.record("kid \(kid) was imported twice")
                } catch let error as FleetError {
                    #expect(error.code == .conflict)
                    #expect(error.detail.contains(kid), "\(error)")
                }
                // Rolled back: the previous key is still current, and still the only current key.
                #expect(try await Self.currentKid(h) == current.kid)
                #expect(try await h.scalar("SELECT count(*)::int8 FROM signing_keys WHERE retired_at IS NULL") == 1)
                #expect(try await h.scalar("SELECT count(*)::int8 FROM signing_keys") == 3)
            }
            // The service signs with the previous key, not with one made up for an empty ring.
            h.clock.advance(by: 11)
            #expect(try ProvisioningHarness.kid(try await h.login()) == current.kid)
            #expect(try await h.jwks().keys.first { $0.kid == current.kid } == current.publicJWK)
        }
    }

    @Test(
        "import-key refuses a kid outside 1–64 characters of A-Z a-z 0-9 - _ and stores nothing",
        arguments: [
            "", String(repeating: "k", count: 65), #"a"b"#, #"a\b"#, "has space", "a/b", "a+b", "a=", "a.b",
            "naïve", "tab\there", "nul\u{0}",
        ]
    )
    func invalidKid(_ kid: String) async throws {
        let pem = Self.pem(try SigningKey.generate())
        #expect(throws: FleetError.self) { try SigningKey.importPEM(pem, kid: kid) }
        try await ProvisioningHarness.run { h in
            let before = try await Self.currentKid(h)
            // The key ring refuses it too, whichever way the key was made.
            let key = try SigningKey(kid: kid, privateKeyDER: try SigningKey.generate().privateKeyDER)
            do {
                try await Self.install(key, h)
                Issue.record("kid \(kid.debugDescription) was accepted")
            } catch let error as FleetError {
                #expect(error.code == .invalidRequest)
            }
            #expect(try await Self.currentKid(h) == before)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM signing_keys") == 1)
        }
    }

    @Test("rotate-keys makes a generated key current; the old one stays published for the longer lifetime + 75 s")
    func rotateKeys() async throws {
        try await ProvisioningHarness.run { h in
            let before = try await h.login()
            let oldKid = try ProvisioningHarness.kid(before)
            let key = try SigningKey.generate()
            let rotatedAt = h.clock.now()
            try await Self.install(key, h)

            h.clock.advance(by: 11)
            let after = try await Self.login(signedWith: key.kid, h)
            #expect(try ProvisioningHarness.kid(after) == key.kid)
            let jwks = try await h.jwks()
            #expect(Set(jwks.keys.map(\.kid)) == [oldKid, key.kid])
            let now = Int64(h.clock.now().timeIntervalSince1970)
            #expect(try Self.adminVerifier.verify(before, keys: PublicKeySet(jwks), now: now).sub == "admin")
            #expect(try await h.call(.get, "/v1/devices", token: before).status == .ok)

            // Device tokens live 3600 s: the old key leaves the JWKS 3675 s after the rotation.
            h.clock.advance(by: 3675 - 5 - h.clock.now().timeIntervalSince(rotatedAt))
            #expect(Set(try await h.jwks().keys.map(\.kid)) == [oldKid, key.kid])
            h.clock.advance(by: 5 + 11)
            #expect(try await h.jwks().keys.map(\.kid) == [key.kid])
        }
    }
}
