import CompressNIO
import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Ingest
import NIOCore
import Testing

/// Every ingest error code of API.md, one test each: the status, a problem+json body with the
/// code, the contract's headers, nothing stored, and the answer counted in `/metrics`.
@Suite("Ingest error codes")
struct ErrorCodeTests {
    static let device = "dev-err"

    /// Starts both services, enrolls `device`, lets `send` post with its token, and checks every
    /// answer `send` returns, that the device has `stored` rows, and the metrics counter.
    func expectRejected(
        _ code: String, _ status: Int, stored: Int = 0,
        clock: any WallClock = SystemWallClock(),
        ingest tweak: @Sendable (inout IngestConfiguration) -> Void = { _ in },
        sourceLocation: SourceLocation = #_sourceLocation,
        _ send: @Sendable (TestStack, String) async throws -> [(String, TestResponse)]
    ) async throws {
        try await TestStack.run(clock: clock, ingest: tweak) { stack in
            let token = try await stack.deviceToken(Self.device)
            let answers = try await send(stack, token)
            #expect(!answers.isEmpty, sourceLocation: sourceLocation)
            for (label, response) in answers {
                expectProblem(response, status, code, "\(label)", sourceLocation: sourceLocation)
            }
            #expect(try await stack.storedCount(device: Self.device) == stored, sourceLocation: sourceLocation)
            #expect(
                try await stack.metric(TestStack.requests(status, code)) == Double(answers.count),
                "every error answer is counted", sourceLocation: sourceLocation)
        }
    }

    @Test("no Authorization header is token_missing, with a bare Bearer challenge")
    func tokenMissing() async throws {
        try await expectRejected("token_missing", 401) { stack, _ in
            let response = try await stack.post(Packs.three(), token: nil)
            #expect(response.headers[.wwwAuthenticate]?.contains("invalid_token") == false)
            return [("no header", response)]
        }
    }

    @Test("a token that is not three unpadded base64url parts of JSON is token_malformed")
    func tokenMalformed() async throws {
        try await expectRejected("token_malformed", 401) { stack, token in
            let parts = token.split(separator: ".").map(String.init)
            let cases = [
                ("one part", "not-a-jwt"),
                ("two parts", "\(parts[0]).\(parts[1])"),
                ("four parts", token + ".x"),
                ("padded base64", "\(parts[0])=.\(parts[1]).\(parts[2])"),
                ("standard base64 alphabet", "\(parts[0]).\(parts[1])+/.\(parts[2])"),
                ("header not JSON", "\(Base64URL.encode(Array("hello".utf8))).\(parts[1]).\(parts[2])"),
                ("claims not JSON", "\(parts[0]).\(Base64URL.encode(Array("[1,2]".utf8))).\(parts[2])"),
                ("exp a string", forged(token, claims: ["sub": Self.device, "exp": "tomorrow"])),
                ("no sub", forged(token, claims: ["exp": Date().timeIntervalSince1970 + 600])),
            ]
            var answers: [(String, TestResponse)] = []
            for (label, candidate) in cases {
                answers.append((label, try await stack.post(Packs.three(), token: candidate)))
            }
            answers.append(
                (
                    "Basic scheme",
                    try await stack.post(Packs.three(), token: nil, extraHeaders: [.authorization: "Basic \(token)"])
                ))
            return answers
        }
    }

    @Test("alg none, HS256 and ES256 are alg_not_allowed")
    func algNotAllowed() async throws {
        try await expectRejected("alg_not_allowed", 401) { stack, token in
            let kid = try headerObject(token)["kid"] as! String
            var answers: [(String, TestResponse)] = []
            for alg in ["none", "HS256", "ES256", "RS512", "rs256"] {
                let candidate = forged(token, header: ["alg": alg, "typ": "JWT", "kid": kid])
                answers.append((alg, try await stack.post(Packs.three(), token: candidate)))
            }
            return answers
        }
    }

    @Test("a kid missing or not in the JWKS is token_unknown_key")
    func tokenUnknownKey() async throws {
        try await expectRejected("token_unknown_key", 401) { stack, token in
            [
                (
                    "unknown kid",
                    try await stack.post(
                        Packs.three(),
                        token: forged(token, header: ["alg": "RS256", "typ": "JWT", "kid": "no-such-key"]))
                ),
                ("no kid", try await stack.post(Packs.three(), token: forged(token, header: ["alg": "RS256"]))),
            ]
        }
    }

    @Test("a changed payload or a foreign key under a known kid is token_bad_signature")
    func tokenBadSignature() async throws {
        try await expectRejected("token_bad_signature", 401) { stack, token in
            var claims = try claimsObject(token)
            claims["fleet"] = "another-fleet"
            let kid = try headerObject(token)["kid"] as! String
            let foreign = try SigningKey.generate()
            let impostor = try await stack.mint(
                sub: Self.device, key: SigningKey(kid: kid, privateKeyDER: foreign.privateKeyDER))
            let parts = token.split(separator: ".").map(String.init)
            return [
                ("payload changed", try await stack.post(Packs.three(), token: forged(token, claims: claims))),
                ("foreign key", try await stack.post(Packs.three(), token: impostor)),
                ("empty signature", try await stack.post(Packs.three(), token: "\(parts[0]).\(parts[1]).")),
            ]
        }
    }

    @Test("exp more than 60 s in the past is token_expired")
    func tokenExpired() async throws {
        try await expectRejected("token_expired", 401) { stack, _ in
            let now = Date()
            let expired = try await stack.mint(
                sub: Self.device, issuedAt: now.addingTimeInterval(-7200), expires: now.addingTimeInterval(-61))
            let response = try await stack.post(Packs.three(), token: expired)
            #expect(TestStack.code(response) == "token_expired")
            return [("expired 61 s ago", response)]
        }
    }

    @Test("nbf or iat more than 60 s in the future is token_not_yet_valid")
    func tokenNotYetValid() async throws {
        try await expectRejected("token_not_yet_valid", 401) { stack, _ in
            let now = Date()
            let notBefore = try await stack.mint(
                sub: Self.device, issuedAt: now, notBefore: now.addingTimeInterval(300),
                expires: now.addingTimeInterval(3600))
            let issuedLater = try await stack.mint(
                sub: Self.device, issuedAt: now.addingTimeInterval(300), notBefore: now,
                expires: now.addingTimeInterval(3600))
            return [
                ("nbf ahead", try await stack.post(Packs.three(), token: notBefore)),
                ("iat ahead", try await stack.post(Packs.three(), token: issuedLater)),
            ]
        }
    }

    @Test("an operator token, or any token not for fleetgate-ingest, is token_wrong_audience")
    func tokenWrongAudience() async throws {
        try await expectRejected("token_wrong_audience", 401) { stack, _ in
            let admin = try await stack.login()
            let other = try await stack.mint(sub: Self.device, aud: ["someone-else", "fleetgate-admin"])
            return [
                ("operator token", try await stack.post(Packs.three(), token: admin)),
                ("other audiences", try await stack.post(Packs.three(), token: other)),
            ]
        }
    }

    @Test("a token of another issuer is token_wrong_issuer")
    func tokenWrongIssuer() async throws {
        try await expectRejected("token_wrong_issuer", 401) { stack, _ in
            let token = try await stack.mint(sub: Self.device, iss: "not-fleetgate")
            return [("iss not-fleetgate", try await stack.post(Packs.three(), token: token))]
        }
    }

    @Test("a revoked device's token is token_revoked, even after it was cached")
    func tokenRevoked() async throws {
        try await expectRejected("token_revoked", 401) { stack, token in
            // Warm the verified-token cache with an answer that stores nothing (an empty pack).
            let warm = try await stack.post("[]", token: token)
            #expect(TestStack.code(warm) == "bad_payload")
            let admin = try await stack.login()
            let revoke = try await stack.provisioning.execute(
                uri: "/v1/devices/\(Self.device)/revoke", method: .post, headers: [.authorization: "Bearer \(admin)"])
            #expect(revoke.status == .ok)
            // Wait for the notification with posts that cannot store anything either.
            var answers: [(String, TestResponse)] = []
            for _ in 0..<40 {
                let probe = try await stack.post("[]", token: token)
                if TestStack.code(probe) == "token_revoked" {
                    answers.append(("probe", probe))
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            answers.append(("revoked", try await stack.post(Packs.three(), token: token)))
            return answers
        }
    }

    @Test("a token for ingest without scope telemetry:write is insufficient_scope (403)")
    func insufficientScope() async throws {
        try await expectRejected("insufficient_scope", 403) { stack, _ in
            let noScope = try await stack.mint(sub: Self.device, scope: nil)
            let otherScope = try await stack.mint(sub: Self.device, scope: "telemetry:read telemetry:writer")
            let answers = [
                ("no scope", try await stack.post(Packs.three(), token: noScope)),
                ("other scopes", try await stack.post(Packs.three(), token: otherScope)),
            ]
            for (_, response) in answers {
                #expect(response.headers[.wwwAuthenticate]?.contains("insufficient_scope") == true)
            }
            return answers
        }
    }

    @Test("a Content-Type or Content-Encoding not in API.md is unsupported_media_type")
    func unsupportedMediaType() async throws {
        try await expectRejected("unsupported_media_type", 415) { stack, token in
            [
                ("text/plain", try await stack.post(Packs.three(), token: token, contentType: "text/plain")),
                ("cbor", try await stack.post(Packs.three(), token: token, contentType: "application/senml+cbor")),
                (
                    "br",
                    try await stack.post(
                        Packs.three(), token: token, encoding: nil, extraHeaders: [.contentEncoding: "br"])
                ),
                (
                    "compress",
                    try await stack.post(
                        Packs.three(), token: token, encoding: nil, extraHeaders: [.contentEncoding: "compress"])
                ),
            ]
        }
    }

    @Test("a compressed body over 1 MiB is payload_too_large")
    func payloadTooLarge() async throws {
        try await expectRejected("payload_too_large", 413) { stack, token in
            let big = Packs.three() + String(repeating: " ", count: 1 << 20)
            return [("1 MiB + identity", try await stack.post(big, token: token, encoding: nil))]
        }
    }

    @Test("a zlib bomb inflating past 16 MiB is inflated_too_large")
    func inflatedTooLarge() async throws {
        try await expectRejected("inflated_too_large", 413) { stack, token in
            // 17 MiB of spaces deflate to about 17 KiB: far below the compressed limit.
            let bomb = "[" + String(repeating: " ", count: 17 << 20) + "]"
            return [
                ("deflate", try await stack.post(bomb, token: token, encoding: "deflate")),
                ("gzip", try await stack.post(bomb, token: token, encoding: "gzip")),
            ]
        }
    }

    @Test("corrupt or truncated zlib, bad JSON and invalid SenML are bad_payload, naming the record")
    func badPayload() async throws {
        try await expectRejected("bad_payload", 400) { stack, token in
            var answers: [(String, TestResponse)] = []
            func raw(_ body: ByteBuffer, encoding: String?) async throws -> TestResponse {
                var headers: HTTPFields = [.contentType: "application/senml+json", .authorization: "Bearer \(token)"]
                if let encoding { headers[.contentEncoding] = encoding }
                return try await stack.ingest.execute(uri: "/v1/telemetry", method: .post, headers: headers, body: body)
            }
            var plain = ByteBuffer(string: Packs.three())
            let deflated = try plain.compress(with: .zlib())
            plain = ByteBuffer(string: Packs.three())
            let gzipped = try plain.compress(with: .gzip())
            var corrupt = deflated
            corrupt.setInteger(UInt8(0xFF), at: corrupt.readerIndex + 4)
            corrupt.setInteger(UInt8(0xFF), at: corrupt.readerIndex + 5)
            answers.append(("corrupt zlib", try await raw(corrupt, encoding: "deflate")))
            answers.append(
                (
                    "truncated zlib",
                    try await raw(
                        deflated.getSlice(at: deflated.readerIndex, length: deflated.readableBytes - 6)!,
                        encoding: "deflate")
                ))
            answers.append(("not zlib at all", try await raw(ByteBuffer(string: Packs.three()), encoding: "deflate")))
            answers.append(
                (
                    "truncated gzip",
                    try await raw(
                        gzipped.getSlice(at: gzipped.readerIndex, length: 20)!,
                        encoding: "gzip")
                ))
            let now = Date().timeIntervalSince1970
            let packs: [(String, String, String?)] = [
                ("invalid JSON", #"[{"n":"a","v":1"#, nil),
                ("not an array", #"{"n":"a","v":1}"#, nil),
                ("empty pack", "[]", nil),
                ("bad name", #"[{"bt":\#(now),"n":"ok","v":1},{"n":"fine","v":2},{"n":"sp ace","v":3}]"#, "2"),
                ("name too long", #"[{"bt":\#(now),"n":"\#(String(repeating: "a", count: 129))","v":1}]"#, "0"),
                ("no name", #"[{"bt":\#(now),"v":1}]"#, "0"),
                ("infinite number", #"[{"bt":\#(now),"n":"a","v":1},{"n":"b","v":1e999}]"#, nil),
                ("NaN literal", #"[{"bt":\#(now),"n":"a","v":NaN}]"#, nil),
                ("must-understand field", #"[{"bt":\#(now),"n":"a","v":1},{"n":"b","v":2,"foo_":1}]"#, "1"),
                ("v a string", #"[{"bt":\#(now),"n":"a","v":"1"}]"#, nil),
                ("two values", #"[{"bt":\#(now),"n":"a","v":1,"vb":true}]"#, "0"),
            ]
            for (label, pack, index) in packs {
                let response = try await stack.post(pack, token: token)
                if let index {
                    let detail = (try? TestStack.object(response.body))?["detail"] as? String ?? ""
                    #expect(detail.contains("record \(index)"), "\(label): \(detail)")
                }
                answers.append((label, response))
            }
            return answers
        }
    }

    @Test("a record older than 7 days or over 10 minutes ahead is bad_timestamp (422)")
    func badTimestamp() async throws {
        try await expectRejected("bad_timestamp", 422) { stack, token in
            let now = Date().timeIntervalSince1970
            return [
                ("8 days old", try await stack.post(Packs.three(now: now - 8 * 86_400), token: token)),
                ("1 h ahead", try await stack.post(Packs.three(now: now + 3600), token: token)),
                (
                    "last record late",
                    try await stack.post(#"[{"bt":\#(now),"n":"a","v":1},{"n":"b","v":2,"t":900}]"#, token: token)
                ),
            ]
        }
    }

    @Test("more than 10 000 records in one post is too_many_records")
    func tooManyRecords() async throws {
        try await expectRejected("too_many_records", 413) { stack, token in
            [("10 001 records", try await stack.post(Packs.records(10_001), token: token))]
        }
    }

    @Test("past the per-device budget a post is rate_limited with Retry-After; the first one is stored")
    func rateLimited() async throws {
        // A frozen clock: on a loaded machine the second post may come more than a second later.
        try await expectRejected(
            "rate_limited", 429, stored: 3, clock: FakeClock(),
            ingest: {
                $0.ratePerDevice = 1
                $0.rateBurst = 1
            }
        ) { stack, token in
            let first = try await stack.post(Packs.three(), token: token)
            #expect(first.status == .ok)
            return [("second at once", try await stack.post(Packs.three(), token: token))]
        }
    }

    @Test("GET /v1/telemetry is method_not_allowed (405) with Allow: POST, and counted")
    func methodNotAllowed() async throws {
        try await expectRejected("method_not_allowed", 405) { stack, token in
            let answer = try await stack.ingest.execute(
                uri: "/v1/telemetry", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(answer.headers[.allow] == "POST")
            return [("GET", answer)]
        }
    }

    @Test("a full write queue is overloaded (503, Retry-After) at once")
    func overloadedQueueFull() async throws {
        try await expectRejected("overloaded", 503, ingest: { $0.writerMaxQueuedRows = 2 }) { stack, token in
            [("3 rows, room for 2", try await stack.post(Packs.three(), token: token))]
        }
    }
}
