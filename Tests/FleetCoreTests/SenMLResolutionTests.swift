import FleetCore
import Foundation
import Testing

@Suite("SenML decoding and resolution (RFC 8428)")
struct SenMLResolutionTests {
    let now = 1_764_400_000.0

    func resolve(_ json: String, limits: SenMLLimits = SenMLLimits()) throws(FleetError) -> [ResolvedRecord] {
        try SenMLResolver(limits: limits).resolve(try SenMLDecoder().decode(Array(json.utf8)), now: now)
    }

    func failure(_ json: String, limits: SenMLLimits = SenMLLimits()) -> FleetError? {
        do {
            _ = try resolve(json, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    @Test("the API.md example resolves names, units, times and values")
    func contractExample() throws {
        let records = try resolve(
            #"[{"bn":"boiler/","bt":1764400000,"n":"temp","u":"Cel","v":71.5},"#
                + #"{"n":"pressure","u":"Pa","v":101325,"t":1},{"n":"door_open","vb":false}]"#
        )
        #expect(
            records == [
                ResolvedRecord(name: "boiler/temp", unit: "Cel", time: 1_764_400_000, value: .number(71.5), sum: nil),
                ResolvedRecord(
                    name: "boiler/pressure", unit: "Pa", time: 1_764_400_001, value: .number(101325), sum: nil),
                ResolvedRecord(name: "boiler/door_open", unit: nil, time: 1_764_400_000, value: .bool(false), sum: nil),
            ]
        )
    }

    @Test("base unit, base value and base sum apply to later records")
    func baseFields() throws {
        let records = try resolve(
            #"[{"bn":"m/","bu":"W","bv":100,"bs":10,"bt":1764400000,"n":"a","v":5,"s":1},{"n":"b","v":-1}]"#
        )
        #expect(records[0] == ResolvedRecord(name: "m/a", unit: "W", time: now, value: .number(105), sum: 11))
        #expect(records[1] == ResolvedRecord(name: "m/b", unit: "W", time: now, value: .number(99), sum: nil))
    }

    @Test("a time below 2^28 is relative to now; no time means now")
    func relativeTime() throws {
        let records = try resolve(#"[{"n":"x","v":1,"t":-5},{"n":"y","v":2}]"#)
        #expect(records[0].time == now - 5)
        #expect(records[1].time == now)
    }

    @Test("string, data and sum-only records are kept")
    func otherValues() throws {
        let records = try resolve(#"[{"n":"s","vs":"on\tline"},{"n":"d","vd":"AAEC"},{"n":"c","s":42}]"#)
        #expect(records.map(\.value) == [.string("on\tline"), .data("AAEC"), nil])
        #expect(records[2].sum == 42)
    }

    @Test(
        "invalid packs are bad_payload and name the record",
        arguments: [
            (#"[]"#, "empty"),
            (#"{"n":"x","v":1}"#, "array"),
            (#"[{"n":"x","v":1},{"n":"bad name","v":1}]"#, "record 1"),
            (#"[{"n":"","v":1}]"#, "record 0"),
            (#"[{"n":"x"}]"#, "no value"),
            (#"[{"n":"x","v":"1"}]"#, "record 0"),
            (#"[{"n":"x","v":1,"vs":"a"}]"#, "more than one"),
            (#"[{"n":"x","v":1,"foo_":1}]"#, "must-understand"),
            (#"[{"n":"x","vd":"a+b/"}]"#, "base64url"),
            (#"[{"n":"x","v":1e400}]"#, "record 0"),
            (#"[{"n":"x","v":1}"#, "record 0"),
            ("[{\"n\":\"\(String(repeating: "a", count: 129))\",\"v\":1}]", "longer than 128"),
        ]
    )
    func badPayload(json: String, detail: String) {
        let error = failure(json)
        #expect(error?.code == .badPayload)
        #expect(error?.detail.contains(detail) == true, "\(error?.detail ?? "no error")")
    }

    @Test("unknown fields without a trailing underscore are ignored (RFC 8428 §4.4)")
    func unknownFieldIgnored() throws {
        #expect(try resolve(#"[{"n":"x","v":1,"colour":"red"}]"#).count == 1)
    }

    @Test("times outside [now − 7 d, now + 10 min] are bad_timestamp")
    func timestampWindow() {
        #expect(failure(#"[{"n":"x","v":1,"bt":\#(now - 8 * 86_400)}]"#)?.code == .badTimestamp)
        #expect(failure(#"[{"n":"x","v":1,"bt":\#(now + 3600)}]"#)?.code == .badTimestamp)
        #expect(failure(#"[{"n":"x","v":1,"bt":\#(now + 590)}]"#) == nil)
    }

    @Test("more records than the limit is too_many_records")
    func tooMany() {
        let pack = "[" + Array(repeating: #"{"n":"x","v":1}"#, count: 11).joined(separator: ",") + "]"
        #expect(failure(pack, limits: SenMLLimits(maxRecords: 10))?.code == .tooManyRecords)
        #expect(failure(pack, limits: SenMLLimits(maxRecords: 11)) == nil)
    }

    @Test("names allow exactly [A-Za-z0-9_.:/-]")
    func nameAlphabet() {
        #expect(failure(#"[{"n":"a-Z_0.9:/x","v":1}]"#) == nil)
        for bad in ["a b", "a'b", "é", "a;b", "a\"b"] {
            let escaped = bad.replacingOccurrences(of: "\"", with: "\\\"")
            #expect(failure(#"[{"n":"\#(escaped)","v":1}]"#)?.code == .badPayload, "\(bad)")
        }
    }
}

@Suite("base64url (RFC 4648 §5, strict as RFC 7515 §2)")
struct Base64URLTests {
    @Test("round-trips and rejects padding, +, / and spaces")
    func strict() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + 11) % 256) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("YQ==") == nil)
        #expect(Base64URL.decode("a+b/") == nil)
        #expect(Base64URL.decode("YW Jj") == nil)
        #expect(Base64URL.decode("Y") == nil)
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test("refuses a tail whose unused bits are set: one byte string, one spelling (RFC 4648 §3.5)")
    func canonicalTail() {
        // "YQ" is "a"; "YR" … "Yf" carry the same byte with some of the 4 spare bits set.
        #expect(Base64URL.decode("YQ") == [0x61])
        for spelling in ["YR", "YS", "YT", "YU", "Yf"] { #expect(Base64URL.decode(spelling) == nil, "\(spelling)") }
        // "YWI" is "ab"; "YWJ" sets one of its 2 spare bits.
        #expect(Base64URL.decode("YWI") == [0x61, 0x62])
        #expect(Base64URL.decode("YWJ") == nil)
        // A 256-byte signature ends in a 4-bit tail: its 15 other spellings are all refused.
        let signature = (0..<256).map { UInt8(($0 * 89 + 3) % 256) }
        let text = Array(Base64URL.encode(signature).utf8)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let last = alphabet.firstIndex(of: text[text.count - 1])!
        var accepted = 0
        for spare in 0..<16 {
            var variant = text
            variant[variant.count - 1] = alphabet[(last & ~0xF) | spare]
            if Base64URL.decode(String(decoding: variant, as: UTF8.self)) != nil { accepted += 1 }
        }
        #expect(accepted == 1)
    }

    @Test("refuses a character outside the alphabet at any position of any length")
    func badCharacterAnywhere() {
        // The decoder reads four characters at a time, then a tail of two or three: every length
        // and every position crosses both paths (well-formed input is checked against Foundation
        // in Base64URLReferenceTests).
        for length in 0..<64 {
            let text = Base64URL.encode((0..<length).map { UInt8(($0 * 151 + 7) % 256) })
            var characters = Array(text.utf8)
            for position in characters.indices {
                let original = characters[position]
                for bad in [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "/"), 0x20, 0x00, 0xC3] {
                    characters[position] = bad
                    #expect(Base64URL.decode(String(decoding: characters, as: UTF8.self)) == nil)
                }
                characters[position] = original
            }
        }
    }
}

@Suite("Error codes")
struct FleetErrorTests {
    @Test("every contract code has its API.md status")
    func statuses() {
        let expected: [String: Int] = [
            "token_missing": 401, "token_malformed": 401, "alg_not_allowed": 401, "token_unknown_key": 401,
            "token_bad_signature": 401, "token_expired": 401, "token_not_yet_valid": 401,
            "token_wrong_audience": 401, "token_wrong_issuer": 401, "token_revoked": 401,
            "insufficient_scope": 403, "unsupported_media_type": 415, "payload_too_large": 413,
            "inflated_too_large": 413, "bad_payload": 400, "bad_timestamp": 422, "too_many_records": 413,
            "rate_limited": 429, "overloaded": 503, "not_found": 404, "conflict": 409, "invalid_request": 400,
        ]
        for (code, status) in expected {
            #expect(FleetError.Code(rawValue: code)?.status == status, "\(code)")
        }
    }
}

@Suite("base64url decoder against Foundation")
struct Base64URLReferenceTests {
    @Test("decodes every random well-formed input as Foundation does, refusing non-canonical tails")
    func differential() {
        var generator = SplitMix64(seed: 9)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for _ in 0..<2000 {
            let length = Int.random(in: 0...40, using: &generator)
            let text = String((0..<length).map { _ in alphabet[Int.random(in: 0..<64, using: &generator)] })
            var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while standard.count % 4 != 0 { standard += "=" }
            // Foundation ignores set spare bits in the tail; the strict decoder accepts only the
            // canonical spelling, the one that encodes back to the same text.
            let reference = Data(base64Encoded: standard).map { [UInt8]($0) }.flatMap {
                Base64URL.encode($0) == text ? $0 : nil
            }
            #expect(Base64URL.decode(text) == reference, "\(text)")
        }
    }
}
