import Crypto
import FleetCore
import Foundation

/// Seals private signing keys with AES-256-GCM under the key-encryption key, binding the kid as
/// associated data so a sealed key cannot be swapped onto another kid.
public struct KeyEncryption: Sendable {
    private let key: SymmetricKey

    /// `keyMaterial` must be 32 bytes.
    public init(keyMaterial: [UInt8]) throws(FleetError) {
        guard keyMaterial.count == 32 else {
            throw FleetError(.invalidRequest, "the key-encryption key must be 32 bytes (base64 of 32 bytes)")
        }
        key = SymmetricKey(data: keyMaterial)
    }

    /// Parses base64 (standard or URL-safe) text of 32 bytes.
    public init(base64: String) throws(FleetError) {
        let trimmed = base64.trimmingCharacters(in: .whitespacesAndNewlines)
        let bytes =
            Data(base64Encoded: trimmed).map { [UInt8]($0) }
            ?? Base64URL.decode(trimmed.replacingOccurrences(of: "=", with: ""))
        guard let bytes else { throw FleetError(.invalidRequest, "the key-encryption key is not base64") }
        try self.init(keyMaterial: bytes)
    }

    public func seal(_ plaintext: Data, kid: String) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Data(kid.utf8))
        // combined = nonce | ciphertext | tag; non-nil for the default 12-byte nonce.
        return box.combined!
    }

    public func open(_ sealed: Data, kid: String) throws -> Data {
        try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key, authenticating: Data(kid.utf8))
    }
}
