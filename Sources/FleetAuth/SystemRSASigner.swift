import CLibcrypto
import Foundation

/// An RSA private key held by the system's libcrypto, signing RSASSA-PKCS1-v1_5 with SHA-256.
///
/// On CPUs with AVX-512 IFMA, OpenSSL 3 signs RSA-2048 about 2.4× faster than swift-crypto's
/// BoringSSL (BENCHMARKS.md, 2026-12-03), and the signature is almost all of a token's cost.
/// The key is read-only after loading, which OpenSSL allows to share between threads; each
/// signature gets its own context.
final class SystemRSASigner: @unchecked Sendable {
    private let key: OpaquePointer

    /// Nil when libcrypto does not accept the DER (the caller keeps BoringSSL then).
    init?(privateKeyDER der: Data) {
        let loaded: OpaquePointer? = der.withUnsafeBytes { raw in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return nil }
            var cursor: UnsafePointer<UInt8>? = base
            return d2i_AutoPrivateKey(nil, &cursor, raw.count)
        }
        guard let loaded else { return nil }
        key = loaded
    }

    deinit { EVP_PKEY_free(key) }

    /// The signature of `message` (hashed here with SHA-256), or nil if libcrypto fails.
    func sign(_ message: [UInt8]) -> [UInt8]? {
        guard let context = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1 else { return nil }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { return nil }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { return nil }
        signature.removeLast(signature.count - length)
        return signature
    }
}
