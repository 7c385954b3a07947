// libFuzzer target: the input is an Authorization header value (or its parts, see
// `authorization`); extract the bearer token and
// parse it (split, base64url, header and claims JSON). Must never crash; an accepted parse must
// carry a non-empty kid and sub. Built by Fuzz/run.sh with BearerToken, TokenParser, AccessClaims.
import FleetAuth
import FleetCore

let allowed: Set<FleetError.Code> = [
    .tokenMissing, .tokenMalformed, .algNotAllowed, .tokenUnknownKey, .tokenBadSignature,
]

/// The Authorization value to try. An input starting with byte 0x01 is "header JSON 0x00 claims
/// JSON 0x00 signature" and is base64url-encoded into `Bearer h.c.s` here, so the fuzzer reaches
/// the JSON decoding directly instead of having to mutate through base64; any other input is the
/// header value as it is.
func authorization(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    guard bytes.first == 0x01 else { return String(decoding: bytes, as: UTF8.self) }
    let parts = bytes.dropFirst().split(separator: 0x00, maxSplits: 2, omittingEmptySubsequences: false)
    return "Bearer " + parts.map { Base64URL.encode($0) }.joined(separator: ".")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let header = authorization(UnsafeBufferPointer(start: data, count: size))
    do {
        let token = try BearerToken.extract(from: [header])
        let parsed = try TokenParser.parse(token)
        guard !parsed.kid.isEmpty else { fatalError("accepted a token without kid") }
        guard !parsed.claims.sub.isEmpty else { fatalError("accepted a token with an empty sub") }
    } catch {
        guard allowed.contains(error.code) else { fatalError("unexpected code \(error)") }
    }
    return 0
}
