// The system's OpenSSL libcrypto (libssl-dev), used only for RS256 signatures: OpenSSL 3 has
// RSA code paths (AVX-512 IFMA) that swift-crypto's BoringSSL lacks. See TokenSigner.
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
