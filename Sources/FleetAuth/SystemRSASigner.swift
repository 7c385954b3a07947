import CLibcrypto
import Foundation
import Synchronization

/// An RSA private key held by the system's libcrypto, signing RSASSA-PKCS1-v1_5 with SHA-256.
///
/// On CPUs with AVX-512 IFMA, OpenSSL 3 signs RSA-2048 about 2.4× faster than swift-crypto's
/// BoringSSL (BENCHMARKS.md, 2026-12-03), and the signature is almost all of a token's cost.
/// The key is read-only after loading, which OpenSSL allows to share between threads.
final class SystemRSASigner: @unchecked Sendable {
    private let key: OpaquePointer
    /// Signing contexts set up for this key (padding, digest) and not in use. Setting one up
    /// per signature fetched the algorithm from OpenSSL's provider each time, 3 % of a token's
    /// CPU in provisioning (BENCHMARKS.md, 2026-12-03). A context serves one thread at a time,
    /// so there are as many as signatures ever ran at once: about the number of cores.
    private let idle = Mutex<[SigningContext]>([])
    private static let keptContexts = 64

    /// An `EVP_PKEY_CTX`, handed from one thread to the next through `idle`, never shared.
    private struct SigningContext: @unchecked Sendable {
        let pointer: OpaquePointer
    }

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

    deinit {
        for context in idle.withLock({ $0 }) { EVP_PKEY_CTX_free(context.pointer) }
        EVP_PKEY_free(key)
    }

    /// The signature of a message whose SHA-256 is `digest`, or nil if libcrypto fails.
    func sign(digest: [UInt8]) -> [UInt8]? {
        guard let context = idle.withLock({ $0.popLast() })?.pointer ?? prepareContext() else { return nil }
        var length = Int(EVP_PKEY_get_size(key))
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_sign(context, &signature, &length, digest, digest.count) == 1 else {
            EVP_PKEY_CTX_free(context)
            return nil
        }
        let kept = idle.withLock { contexts in
            guard contexts.count < Self.keptContexts else { return false }
            contexts.append(SigningContext(pointer: context))
            return true
        }
        if !kept { EVP_PKEY_CTX_free(context) }
        signature.removeLast(signature.count - length)
        return signature
    }

    /// A context that signs a SHA-256 digest with PKCS #1 v1.5 padding under this key.
    private func prepareContext() -> OpaquePointer? {
        guard let context = EVP_PKEY_CTX_new(key, nil) else { return nil }
        guard EVP_PKEY_sign_init(context) == 1,
            EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1,
            EVP_PKEY_CTX_set_signature_md(context, EVP_sha256()) == 1
        else {
            EVP_PKEY_CTX_free(context)
            return nil
        }
        return context
    }
}
