import Crypto
import FleetCore
import Foundation

/// Opaque device refresh tokens: 256 random bits, shown once, stored only as a SHA-256 hash.
/// A fast hash is enough here: with 256 bits of entropy there is nothing to brute-force.
public enum RefreshToken {
    static let prefix = "fgr_"

    public static func generate() -> String {
        prefix + Base64URL.encode(RandomBytes.make(32))
    }

    public static func hash(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }
}
