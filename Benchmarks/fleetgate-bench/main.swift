// fleetgate-bench: single-threaded micro-benchmarks of the ingest hot path's building blocks.
//
// It times, in one process, on one thread:
//   - a cached token: the DeviceAuthenticator path on a cache hit (Bearer extraction, cache lookup,
//     device id check, revocation view, scope), and the bare VerifiedTokenCache lookup;
//   - an uncached token: TokenVerifier.verify (parse, RS256 signature, claims) with a PublicKeySet
//     built from SigningKey.generate().publicJWK, tokens made by TokenSigner;
//   - signing: TokenSigner.sign of device claims, and the bare RSA signature under it;
//   - SenML decode + resolve of a 100-record pack;
//   - Inflater on a deflated (zlib) 100-record pack.
// Each case runs a warm-up, then a fixed number of iterations or a fixed time, and prints ns/op.
// The last line is one JSON object (prefixed `BENCHJSON `) that bench/run.sh reads.
//
// Usage: fleetgate-bench [--quick]   (--quick divides the work by 10, for debugging the suite)
import CZlib
import Crypto
import CryptoExtras
import FleetAuth
import FleetCore
import FleetHTTP
import Foundation
import NIOCore

let quick = CommandLine.arguments.contains("--quick")
let scale = quick ? 10 : 1

/// Keeps results alive so the optimiser cannot drop the work being timed.
nonisolated(unsafe) var sink = 0

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Runs `body` `iterations` times after `warmup` runs; returns nanoseconds per run.
func measure(iterations: Int, warmup: Int, _ body: (Int) throws -> Void) rethrows -> Double {
    for i in 0..<warmup { try body(i) }
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<iterations { try body(i) }
    return seconds(clock.now - start) * 1e9 / Double(iterations)
}

/// Runs `body` for about `budget` seconds (checking the clock every `stride` runs); ns per run.
func measure(forSeconds budget: Double, stride: Int, _ body: (Int) throws -> Void) rethrows -> (ns: Double, ops: Int) {
    let clock = ContinuousClock()
    let start = clock.now
    var ops = 0
    while true {
        for i in 0..<stride { try body(ops + i) }
        ops += stride
        let elapsed = seconds(clock.now - start)
        if elapsed >= budget { return (elapsed * 1e9 / Double(ops), ops) }
    }
}

var results: [String: Double] = [:]
func pad(_ text: String) -> String { text.count >= 46 ? text : text + String(repeating: " ", count: 46 - text.count) }
@MainActor func report(_ key: String, _ ns: Double, _ what: String) {
    results[key] = ns
    let perSecond = ns > 0 ? 1e9 / ns : 0
    print(pad(what) + String(format: " %12.1f ns/op %14.0f op/s", ns, perSecond))
}

// MARK: tokens

let key = try SigningKey.generate()
let keys = PublicKeySet(JWKSDocument(keys: [key.publicJWK]))
let verifier = TokenVerifier(rules: VerificationRules(issuer: "fleetgate", audience: TokenNames.ingestAudience))
let signer = TokenSigner()
let now = Int64(Date().timeIntervalSince1970)
let tokenCount = 2000
var tokens: [String] = []
tokens.reserveCapacity(tokenCount)
for i in 0..<tokenCount {
    let claims = AccessClaims(
        iss: "fleetgate", sub: String(format: "bench-%06d", i), aud: [TokenNames.ingestAudience],
        iat: now, nbf: now, exp: now + 3600, jti: TokenSigner.randomJTI(), fleet: "bench",
        scope: TokenNames.telemetryWrite
    )
    tokens.append(try signer.sign(claims, with: key))
}
let authorizations = tokens.map { ["Bearer " + $0] }

let cache = VerifiedTokenCache(capacity: 100_000)
for token in tokens { cache.insert(token, claims: try verifier.verify(token, keys: keys, now: now), now: now) }
let revocations = RevocationView()
// A realistic view: some revoked devices, none of them the ones posting.
for i in 0..<1000 {
    revocations.apply(device: String(format: "gone-%06d", i), entry: .init(disabled: true, cutoff: now))
}

print("fleetgate-bench: single thread, \(quick ? "quick (1/10 work)" : "full") run")

let lookups = 1_000_000 / scale
report(
    "cache_lookup_ns",
    measure(iterations: lookups, warmup: 10_000) { i in
        if let claims = cache.claims(for: tokens[i % tokenCount], now: now, leeway: 60) {
            sink &+= claims.sub.utf8.count
        }
    }, "VerifiedTokenCache.claims hit")

report(
    "cached_auth_ns",
    try measure(iterations: lookups, warmup: 10_000) { i in
        // The DeviceAuthenticator hit path, step by step.
        let token = try BearerToken.extract(from: authorizations[i % tokenCount])
        guard let claims = cache.claims(for: token, now: now, leeway: 60) else { fatalError("cache miss") }
        guard DeviceID.isValid(claims.sub), !revocations.isRevoked(device: claims.sub, issuedAt: claims.iat),
            claims.hasScope(TokenNames.telemetryWrite)
        else { fatalError("refused") }
        sink &+= claims.exp == 0 ? 1 : 0
    }, "cached token (Bearer+cache+revocation+scope)")

report(
    "bearer_extract_ns",
    try measure(iterations: lookups / 10, warmup: 1000) { i in
        sink &+= try BearerToken.extract(from: authorizations[i % tokenCount]).utf8.count
    }, "  of which BearerToken.extract")
report(
    "id_revocation_scope_ns",
    measure(iterations: lookups, warmup: 10_000) { i in
        let claims = cache.claims(for: tokens[i % tokenCount], now: now, leeway: 60)!
        if DeviceID.isValid(claims.sub), !revocations.isRevoked(device: claims.sub, issuedAt: claims.iat),
            claims.hasScope(TokenNames.telemetryWrite)
        {
            sink &+= 1
        }
    }, "  cache hit + id, revocation, scope checks")

let verifyBudget = quick ? 0.5 : 3.0
report(
    "parse_ns",
    try measure(forSeconds: verifyBudget / 3, stride: 100) { i in
        sink &+= try verifier.parse(tokens[i % tokenCount]).kid.utf8.count
    }.ns, "TokenVerifier.parse (no signature)")
let uncached = try measure(forSeconds: verifyBudget, stride: 50) { i in
    sink &+= try verifier.verify(tokens[i % tokenCount], keys: keys, now: now).sub.utf8.count
}
report("uncached_verify_ns", uncached.ns, "uncached token (TokenVerifier.verify, RS256)")
results["uncached_verify_per_s"] = 1e9 / uncached.ns

// MARK: signing (provisioning's POST /v1/token)

let signBudget = quick ? 0.5 : 2.0
let claims = AccessClaims(
    iss: "fleetgate", sub: "bench-000001", aud: [TokenNames.ingestAudience], iat: now, nbf: now, exp: now + 3600,
    jti: TokenSigner.randomJTI(), fleet: "bench", scope: TokenNames.telemetryWrite
)
let signed = try measure(forSeconds: signBudget, stride: 10) { _ in
    sink &+= try signer.sign(claims, with: key).utf8.count
}
report("sign_ns", signed.ns, "TokenSigner.sign (claims, RS256)")
results["sign_per_s"] = 1e9 / signed.ns
// The bare RSA operation on a digest, as `openssl speed` times it.
let rawKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
let digest = SHA256.hash(data: Array("bench".utf8))
let rawSign = try measure(forSeconds: signBudget, stride: 10) { _ in
    sink &+= try rawKey.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation.count
}
report("rsa_sign_ns", rawSign.ns, "  of which the RSA signature (swift-crypto)")
results["rsa_sign_per_s"] = 1e9 / rawSign.ns

// MARK: SenML

func pack(records: Int, base: Double) -> [UInt8] {
    var text = "["
    let sensors = [("temp", "Cel"), ("humidity", "%RH"), ("pressure", "Pa"), ("voltage", "V")]
    for j in 0..<records {
        let (sensor, unit) = sensors[j % sensors.count]
        let value = 20 + Double(j % 97) * 0.37
        if j == 0 {
            text += #"{"bn":"bench-000001/","bt":\#(base),"n":"\#(sensor)_\#(j)","u":"\#(unit)","v":\#(value)}"#
        } else {
            text += #",{"n":"\#(sensor)_\#(j)","u":"\#(unit)","v":\#(value),"t":\#(Double(j) / 1000)}"#
        }
    }
    return Array((text + "]").utf8)
}
let base = Double(now)
let pack100 = pack(records: 100, base: base)
let decoder = SenMLDecoder()
let resolver = SenMLResolver()
let senml = try measure(forSeconds: quick ? 0.3 : 2.0, stride: 20) { _ in
    let records = try decoder.decode(pack100)
    sink &+= try resolver.resolve(records, now: base).count
}
report("senml_pack100_ns", senml.ns, "SenML decode+resolve, 100-record pack")
results["senml_record_ns"] = senml.ns / 100
print(pad("  (per record)") + String(format: " %12.1f ns/record", senml.ns / 100))

// MARK: inflate

func deflate(_ input: [UInt8]) -> [UInt8] {
    var size = compressBound(uLong(input.count))
    var output = [UInt8](repeating: 0, count: Int(size))
    let code = compress2(&output, &size, input, uLong(input.count), 6)
    precondition(code == Z_OK, "compress2 failed")
    return Array(output.prefix(Int(size)))
}
let compressed = deflate(pack100)
var compressedBuffer = ByteBufferAllocator().buffer(capacity: compressed.count)
compressedBuffer.writeBytes(compressed)
let inflater = Inflater(limit: 16 << 20)
let inflate = try measure(forSeconds: quick ? 0.3 : 2.0, stride: 100) { _ in
    sink &+= try inflater.inflate(compressedBuffer, format: .zlib).readableBytes
}
report("inflate_pack100_ns", inflate.ns, "Inflater, 100-record pack (\(compressed.count) B → \(pack100.count) B)")
results["inflate_mb_per_s"] = Double(pack100.count) / inflate.ns * 1e3

let bigPack = pack(records: 10_000, base: base)
var bigBuffer = ByteBufferAllocator().buffer(capacity: bigPack.count)
bigBuffer.writeBytes(deflate(bigPack))
let inflateBig = try measure(forSeconds: quick ? 0.3 : 1.0, stride: 2) { _ in
    sink &+= try inflater.inflate(bigBuffer, format: .zlib).readableBytes
}
results["inflate_big_mb_per_s"] = Double(bigPack.count) / inflateBig.ns * 1e3
print(
    pad("Inflater throughput")
        + String(
            format: " %12.1f MB/s inflated (10 000-record pack: %.0f MB/s)", results["inflate_mb_per_s"]!,
            results["inflate_big_mb_per_s"]!))

print("(sink \(sink % 10))")
let json = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
print("BENCHJSON " + String(decoding: json, as: UTF8.self))
