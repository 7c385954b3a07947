import FleetAuth
import FleetCore
import Foundation
import Testing

@Suite("RS256 token signing and strict verification")
struct TokenVerifierTests {
    static let key = try! SigningKey.generate()
    static let keys = PublicKeySet(JWKSDocument(keys: [key.publicJWK]))
    let verifier = TokenVerifier(rules: VerificationRules(issuer: "fleetgate", audience: "fleetgate-ingest"))
    let now: Int64 = 1_764_400_000

    func claims(exp: Int64? = nil, nbf: Int64? = nil, iss: String = "fleetgate", aud: String = "fleetgate-ingest")
        -> AccessClaims
    {
        AccessClaims(
            iss: iss, sub: "dev-1", aud: [aud], iat: nbf ?? now, nbf: nbf ?? now, exp: exp ?? now + 3600,
            jti: TokenSigner.randomJTI(), fleet: "f", scope: "telemetry:write"
        )
    }

    func code(_ token: String, keys: PublicKeySet = Self.keys) -> FleetError.Code? {
        do {
            _ = try verifier.verify(token, keys: keys, now: now)
            return nil
        } catch {
            return error.code
        }
    }

    func raw(header: String, payload: String, signature: String = "c2ln") -> String {
        Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8)) + "." + signature
    }

    @Test("a token it signed verifies and yields its claims")
    func roundTrip() throws {
        let original = claims()
        let token = try TokenSigner().sign(original, with: Self.key)
        #expect(try verifier.verify(token, keys: Self.keys, now: now) == original)
    }

    @Test("time, issuer and audience rules each have their own code, with 60 s leeway")
    func claimRules() throws {
        let signer = TokenSigner()
        #expect(code(try signer.sign(claims(exp: now - 61), with: Self.key)) == .tokenExpired)
        #expect(code(try signer.sign(claims(exp: now - 30), with: Self.key)) == nil)
        #expect(code(try signer.sign(claims(nbf: now + 61), with: Self.key)) == .tokenNotYetValid)
        #expect(code(try signer.sign(claims(nbf: now + 30), with: Self.key)) == nil)
        #expect(code(try signer.sign(claims(iss: "other"), with: Self.key)) == .tokenWrongIssuer)
        #expect(code(try signer.sign(claims(aud: "fleetgate-admin"), with: Self.key)) == .tokenWrongAudience)
    }

    @Test("structure, algorithm and key failures each have their own code")
    func structural() throws {
        let good = try TokenSigner().sign(claims(), with: Self.key)
        let parts = good.split(separator: ".").map(String.init)
        let payload = #"{"sub":"dev-1","exp":\#(now + 60),"iss":"fleetgate","aud":"fleetgate-ingest"}"#
        #expect(code("abc") == .tokenMalformed)
        #expect(code(parts[0] + "." + parts[1]) == .tokenMalformed)
        #expect(code(good + ".x.y") == .tokenMalformed)
        #expect(code(parts[0] + "=." + parts[1] + "." + parts[2]) == .tokenMalformed)
        #expect(code(raw(header: #"{"alg":"none"}"#, payload: payload, signature: "")) == .algNotAllowed)
        #expect(code(raw(header: #"{"alg":"HS256","kid":"k"}"#, payload: payload)) == .algNotAllowed)
        #expect(code(raw(header: #"{"alg":"RS256"}"#, payload: payload)) == .tokenUnknownKey)
        #expect(code(raw(header: #"{"alg":"RS256","kid":"nope"}"#, payload: payload)) == .tokenUnknownKey)
        #expect(code(raw(header: #"{"alg":"RS256","kid":"\#(Self.key.kid)"}"#, payload: payload)) == .tokenBadSignature)
        #expect(code(parts[0] + "." + parts[1] + ".") == .tokenBadSignature)
        #expect(code(raw(header: #"{"alg":"RS256","kid":"k","crit":["x"]}"#, payload: payload)) == .tokenMalformed)
        #expect(code(raw(header: #"{"alg":"RS256","kid":"k"}"#, payload: #"{"sub":"d"}"#)) == .tokenMalformed)
        #expect(code(raw(header: #"{"alg":"RS256","kid":"k"}"#, payload: #"{"exp":1}"#)) == .tokenMalformed)
        #expect(code(raw(header: #"{"alg":"RS256","kid":"k"}"#, payload: #"{"sub":"d","exp":"1"}"#)) == .tokenMalformed)
        #expect(
            code(raw(header: #"{"alg":"RS256","kid":"k"}"#, payload: #"{"sub":"d","exp":1,"aud":5}"#))
                == .tokenMalformed)
        #expect(
            code(raw(header: #"{"alg":"RS256","kid":"k"}"#, payload: #"{"sub":"d","exp":1e300}"#)) == .tokenMalformed)
    }

    @Test("a repeated member keeps its first value; escapes, non-ASCII text and null read as JSON says")
    func claimsReading() throws {
        let header = #"{"alg":"RS256","kid":"k1","kid":"k2","typ":null}"#
        let payload =
            #"{"sub":"d\u00e9v","sub":"other","exp":100,"exp":"x","fleet":"Zürich","\u0073cope":"telemetry:write","#
            + #""role":null,"aud":["a","b"],"extra":{"nested":[1,true,null]}}"#
        let parsed = try verifier.parse(raw(header: header, payload: payload))
        #expect(parsed.kid == "k1")
        #expect(parsed.claims.sub == "dév")
        #expect(parsed.claims.exp == 100)
        #expect(parsed.claims.fleet == "Zürich")
        #expect(parsed.claims.scope == "telemetry:write")
        #expect(parsed.claims.role == nil)
        #expect(parsed.claims.aud == ["a", "b"])
        // Invalid UTF-8 inside a claim string is malformed, not repaired.
        let invalid = Array(#"{"sub":"d"#.utf8) + [0xFF] + Array(#"","exp":100}"#.utf8)
        let token = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(invalid) + ".c2ln"
        #expect(code(token) == .tokenMalformed)
    }

    @Test("a valid signature with another payload does not verify")
    func tamperedPayload() throws {
        let good = try TokenSigner().sign(claims(), with: Self.key)
        let other = try TokenSigner().sign(claims(exp: now + 7200), with: Self.key)
        let a = good.split(separator: ".")
        let b = other.split(separator: ".")
        #expect(code("\(a[0]).\(b[1]).\(a[2])") == .tokenBadSignature)
    }

    @Test("a token from another key with the same kid does not verify")
    func foreignKey() throws {
        let attacker = try SigningKey(kid: Self.key.kid, privateKeyDER: try SigningKey.generate().privateKeyDER)
        #expect(code(try TokenSigner().sign(claims(), with: attacker)) == .tokenBadSignature)
    }

    @Test("the JWKS never yields a key that is not an RS256 signing key of 2048+ bits")
    func keySetFilters() {
        var jwk = Self.key.publicJWK
        jwk.alg = "HS256"
        #expect(PublicKeySet(JWKSDocument(keys: [jwk])).isEmpty)
        var enc = Self.key.publicJWK
        enc.use = "enc"
        #expect(PublicKeySet(JWKSDocument(keys: [enc])).isEmpty)
        #expect(PublicKeySet(JWKSDocument(keys: [PublicJWK(kid: "k", n: "AQAB", e: "AQAB")])).isEmpty)
        #expect(!Self.keys.isEmpty)
    }

    @Test("a published JWKS is read key by key: no use/alg is fine, an EC key or junk entry is passed over")
    func keySetDecoding() throws {
        let rsa = Self.key.publicJWK
        let json = """
            {"keys":[
              {"kty":"EC","crv":"P-256","kid":"ec-1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
              {"kty":"RSA","kid":"\(rsa.kid)","n":"\(rsa.n)","e":"\(rsa.e)"},
              42,
              {"kty":"RSA","kid":"enc-1","use":"enc","n":"\(rsa.n)","e":"\(rsa.e)"},
              {"kty":"RSA","kid":7,"n":"\(rsa.n)","e":"\(rsa.e)"}
            ]}
            """
        let document = try JSONDecoder().decode(JWKSDocument.self, from: Data(json.utf8))
        #expect(document.keys.map(\.kid) == [rsa.kid, "enc-1"])
        let keys = PublicKeySet(document)
        #expect(keys.kids == [rsa.kid])
        let token = try TokenSigner().sign(claims(), with: Self.key)
        #expect(code(token, keys: keys) == nil)
        // What provisioning publishes reads back unchanged.
        let published = try JSONEncoder().encode(JWKSDocument(keys: [rsa]))
        #expect(try JSONDecoder().decode(JWKSDocument.self, from: published) == JWKSDocument(keys: [rsa]))
    }
}

@Suite("Bearer header parsing (RFC 6750 §2.1, RFC 7235)")
struct BearerTokenTests {
    func code(_ values: [String]) -> FleetError.Code? {
        do {
            _ = try BearerToken.extract(from: values)
            return nil
        } catch {
            return error.code
        }
    }

    @Test("the scheme matches without regard to case; anything else is malformed or missing")
    func parsing() throws {
        #expect(try BearerToken.extract(from: ["Bearer a.b.c"]) == "a.b.c")
        #expect(try BearerToken.extract(from: ["bEaReR a.b.c"]) == "a.b.c")
        #expect(code([]) == .tokenMissing)
        #expect(code(["Basic YTpi"]) == .tokenMalformed)
        #expect(code(["Bearer"]) == .tokenMalformed)
        #expect(code(["Bearer "]) == .tokenMalformed)
        #expect(code(["Bearer  a.b.c"]) == .tokenMalformed)
        #expect(code(["Bearer a.b.c x"]) == .tokenMalformed)
        #expect(code(["Bearer a.b\tc"]) == .tokenMalformed)
        #expect(code(["Bearer " + String(repeating: "x", count: 900) + " "]) == .tokenMalformed)
        #expect(code(["Bearer a.b.c", "Bearer a.b.c"]) == .tokenMalformed)
    }
}

@Suite("Verified-token cache")
struct VerifiedTokenCacheTests {
    let claims = AccessClaims(iss: "i", sub: "d", aud: ["a"], iat: 0, nbf: 0, exp: 1000, jti: "j")

    @Test("a hit lasts until exp plus leeway, keyed by the whole token")
    func expiry() {
        let cache = VerifiedTokenCache(capacity: 10)
        cache.insert("h.p.s", claims: claims, now: 10)
        #expect(cache.claims(for: "h.p.s", now: 500, leeway: 60) == claims)
        #expect(cache.claims(for: "h.p2.s", now: 500, leeway: 60) == nil)
        #expect(cache.claims(for: "h.p.s", now: 1059, leeway: 60) == claims)
        #expect(cache.claims(for: "h.p.s", now: 1060, leeway: 60) == nil)
        #expect(cache.count == 0)
    }

    @Test("tokens that share length and signature tail (one hash) still match only themselves")
    func sameTail() {
        let cache = VerifiedTokenCache(capacity: 100)
        let tail = ".SIGNATURE-TAIL-0123456789abcdef"
        let tokens = (0..<50).map { "header.payload-\(String(format: "%03d", $0))" + tail }
        for (i, token) in tokens.enumerated() {
            var these = claims
            these.jti = "j\(i)"
            cache.insert(token, claims: these, now: 10)
        }
        for (i, token) in tokens.enumerated() {
            #expect(cache.claims(for: token, now: 10, leeway: 0)?.jti == "j\(i)")
        }
        #expect(cache.claims(for: "header.payload-999" + tail, now: 10, leeway: 0) == nil)
        #expect(cache.claims(for: "header.payload-00" + tail, now: 10, leeway: 0) == nil)
        #expect(cache.claims(for: "", now: 10, leeway: 0) == nil)
    }

    @Test("it stays within its capacity")
    func bounded() {
        let cache = VerifiedTokenCache(capacity: 100)
        for i in 0..<1000 { cache.insert("t\(i)", claims: claims, now: 10) }
        #expect(cache.count <= 100)
        #expect(cache.claims(for: "t999", now: 10, leeway: 0) == claims)
    }
}

@Suite("Revocation view")
struct RevocationViewTests {
    @Test("disabled devices and tokens issued before the cut-off are revoked")
    func rules() async {
        let view = RevocationView()
        view.apply(device: "a", entry: .init(disabled: false, cutoff: 100))
        view.apply(device: "b", entry: .init(disabled: true, cutoff: 0))
        #expect(view.isRevoked(device: "a", issuedAt: 99))
        #expect(!view.isRevoked(device: "a", issuedAt: 100))
        #expect(view.isRevoked(device: "b", issuedAt: 10_000))
        #expect(!view.isRevoked(device: "c", issuedAt: 0))
        await view.reload { [:] }
        #expect(!view.isRevoked(device: "b", issuedAt: 0))
    }

    @Test("a revocation applied while a reload reads survives the older snapshot it read")
    func revokedDuringReload() async {
        let view = RevocationView()
        await view.reload {
            // The notification lands after the query ran, before its rows replace the view.
            view.apply(device: "d", entry: .init(disabled: true, cutoff: 50))
            return ["other": .init(disabled: true, cutoff: 0)]
        }
        #expect(view.isRevoked(device: "d", issuedAt: 10_000))
        #expect(view.isRevoked(device: "other", issuedAt: 10_000))
    }

    @Test("a re-enable (re-credential, re-enroll) applied while a reload reads survives it too")
    func reenabledDuringReload() async {
        let view = RevocationView()
        view.apply(device: "d", entry: .init(disabled: true, cutoff: 0))
        await view.reload {
            view.apply(device: "d", entry: .init(disabled: false, cutoff: 100))
            view.apply(device: "gone", entry: nil)
            return ["d": .init(disabled: true, cutoff: 0), "gone": .init(disabled: true, cutoff: 0)]
        }
        #expect(!view.isRevoked(device: "d", issuedAt: 100))
        #expect(view.isRevoked(device: "d", issuedAt: 99))
        #expect(!view.isRevoked(device: "gone", issuedAt: 0))
    }

    @Test("overlapping reloads keep a change either saw begin, and a later reload replaces it")
    func overlappingReloads() async {
        let view = RevocationView()
        await view.reload {
            await view.reload {
                view.apply(device: "d", entry: .init(disabled: true, cutoff: 0))
                return [:]
            }
            #expect(view.isRevoked(device: "d", issuedAt: 0), "the inner reload began before the change")
            return [:]
        }
        #expect(view.isRevoked(device: "d", issuedAt: 0), "the outer reload began before the change")
        // Nothing changed while this one read: what it read is the truth.
        await view.reload { [:] }
        #expect(!view.isRevoked(device: "d", issuedAt: 0))
        #expect(view.count == 0)
    }

    @Test("a reload that began earlier and finishes later does not replace a newer one")
    func olderReloadFinishingLast() async {
        let view = RevocationView()
        await view.reload {
            // Began later, read the revocation (no notification came: the listener was down),
            // and finished first.
            await view.reload { ["d": .init(disabled: true, cutoff: 0)] }
            return [:]  // this older read had not seen it
        }
        #expect(view.isRevoked(device: "d", issuedAt: 0))
        await view.reload { [:] }
        #expect(view.count == 0)
    }

    @Test("a reload whose read fails changes nothing and leaves no change pending")
    func failedReload() async {
        struct ReadFailed: Error {}
        let view = RevocationView()
        view.apply(device: "d", entry: .init(disabled: true, cutoff: 0))
        await #expect(throws: ReadFailed.self) {
            try await view.reload {
                view.apply(device: "e", entry: .init(disabled: true, cutoff: 0))
                throw ReadFailed()
            }
        }
        #expect(view.isRevoked(device: "d", issuedAt: 0) && view.isRevoked(device: "e", issuedAt: 0))
        await view.reload { [:] }
        #expect(view.count == 0)
    }
}

@Suite("Key encryption and refresh tokens")
struct SecretsTests {
    @Test("sealed keys open only with the same key-encryption key and kid")
    func sealing() throws {
        let kek = try KeyEncryption(keyMaterial: Array(repeating: 7, count: 32))
        let sealed = try kek.seal(Data("secret".utf8), kid: "k1")
        #expect(try kek.open(sealed, kid: "k1") == Data("secret".utf8))
        #expect(throws: (any Error).self) { try kek.open(sealed, kid: "k2") }
        let other = try KeyEncryption(keyMaterial: Array(repeating: 8, count: 32))
        #expect(throws: (any Error).self) { try other.open(sealed, kid: "k1") }
        #expect(throws: FleetError.self) { try KeyEncryption(keyMaterial: [1, 2, 3]) }
    }

    @Test("refresh tokens carry 256 random bits and hash to 32 bytes")
    func refreshTokens() {
        let a = RefreshToken.generate()
        let b = RefreshToken.generate()
        #expect(a != b)
        #expect(a.hasPrefix("fgr_") && a.count == 4 + 43)
        #expect(RefreshToken.hash(a).count == 32)
        #expect(RefreshToken.hash(a) == RefreshToken.hash(a))
    }
}
