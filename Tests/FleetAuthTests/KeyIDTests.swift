import FleetAuth
import FleetCore
import Foundation
import Testing

@Suite("Key ids: generated, imported, and written into token headers")
struct KeyIDTests {
    @Test("generated kids pass the check imported kids must pass")
    func generated() {
        for _ in 0..<100 { #expect(KeyID.isValid(KeyID.random())) }
        for kid in ["a", "A-z_09", String(repeating: "K", count: 64)] { #expect(KeyID.isValid(kid), "\(kid)") }
        for kid in ["", String(repeating: "K", count: 65), "a b", #"a"b"#, "a.b", "a=", "é"] {
            #expect(!KeyID.isValid(kid), "\(kid)")
        }
    }

    @Test("a kid is escaped in the JOSE header, so a stored odd kid cannot change the header's members")
    func headerEscapesKid() throws {
        let kid = #"x","alg":"none"#
        let key = try SigningKey(kid: kid, privateKeyDER: TokenVerifierTests.key.privateKeyDER)
        let claims = AccessClaims(
            iss: "fleetgate", sub: "dev-1", aud: ["fleetgate-ingest"], iat: 1, nbf: 1, exp: 2, jti: "j")
        let token = try TokenSigner().sign(claims, with: key)
        let first = try #require(token.split(separator: ".").first)
        let bytes = try #require(Base64URL.decode(first))
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: String])
        #expect(header == ["alg": "RS256", "typ": "JWT", "kid": kid])
    }
}
