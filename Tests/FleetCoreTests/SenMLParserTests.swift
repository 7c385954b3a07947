import FleetCore
import Foundation
import Testing

/// The hand-written parser must accept exactly what Foundation's JSONDecoder-based reference
/// accepts, with the same records, and refuse the rest with `bad_payload`.
@Suite("Hand-written SenML parser against the Foundation reference")
struct SenMLParserTests {
    static let inputs: [String] = [
        #"[{"bn":"a/","bt":1.5e9,"bu":"W","bv":1,"bs":2,"bver":10,"n":"x","u":"V","t":-1,"v":2.5,"s":3,"ut":1}]"#,
        #"[{"n":"s","vs":"tab\t \"q\" \\ \/ \u00e9 \ud83d\ude00 \b\f\n\r"}]"#,
        #"[{"n":"b","vb":true},{"n":"c","vb":false},{"n":"d","vd":"AAEC"}]"#,
        #" [ { "n" : "w" , "v" : -0.0 } ] "#,
        #"[{"n":"x","v":1,"extra":{"a":[1,2,{"b":null}],"c":"d"},"e":[true,false,null,1e5]}]"#,
        #"[{}]"#,
        #"[{"n":"x","v":1},{"n":"x","v":1e-7},{"n":"y","v":12345678901234567890}]"#,
        // Invalid: each must be refused by both.
        #"[]"#, #"{}"#, #""x""#, #"["#, #"[{"n":"x","v":1}"#, #"[{"n":"x","v":1}]]"#, #"[{"n":"x","v":1},]"#,
        #"[{"n":"x","v":01}]"#, #"[{"n":"x","v":1.}]"#, #"[{"n":"x","v":.5}]"#, #"[{"n":"x","v":+1}]"#,
        #"[{"n":"x","v":1e}]"#, #"[{"n":"x","v":NaN}]"#, #"[{"n":"x","v":Infinity}]"#, #"[{"n":"x","v":1e400}]"#,
        #"[{"n":"x","v":"1"}]"#, #"[{"n":1,"v":1}]"#, #"[{"n":"x","vb":"true"}]"#, #"[{"n":"x","vs":1}]"#,
        #"[{"n":"x","v":1,"foo_":1}]"#, #"[{"n":"x","v":1,"bver":5}]"#, #"[{"n":"x","v":1,"bver":11}]"#,
        #"[{"n":"x\u0001","v":1}]"#,
        #"[{"n":"\ud800","v":1}]"#, #"[{"n":"x" "v":1}]"#, #"[{"n":"x",,"v":1}]"#, #"[{n:"x"}]"#,
        #"[{"n":"x","v":tru}]"#, #"[{"n":"x","v":1}] x"#, #"[{"n":"x","v":null}]"#, #"[1]"#, #"[[]]"#,
        "[{\"n\":\"x\u{1}\",\"v\":1}]", "[{\"n\":\"\u{FF}\",\"v\":1}]",
    ]

    /// Foundation's JSON reader accepts a trailing comma (`[1,]`, `{"a":1,}`), which RFC 8259 §5 and
    /// §4 do not allow; the parser keeps to the RFC, so it may refuse what the reference accepts
    /// here, and only here.
    static func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.range(of: #",\s*[\]}]"#, options: .regularExpression) != nil
    }

    static func outcome(_ body: () throws(FleetError) -> [SenMLRecord]) -> Result<[SenMLRecord], FleetError> {
        do {
            return .success(try body())
        } catch {
            return .failure(error)
        }
    }

    @Test("agrees with the reference on every sample", arguments: inputs)
    func agrees(input: String) {
        let bytes = Array(input.utf8)
        let fast = Self.outcome { () throws(FleetError) in try SenMLParser().parse(bytes) }
        let reference = Self.outcome { () throws(FleetError) in try SenMLReferenceDecoder().decode(bytes) }
        switch (fast, reference) {
        case (.success(let a), .success(let b)):
            #expect(a == b)
        case (.failure(let a), .failure(let b)):
            #expect(a.code == .badPayload)
            #expect(b.code == .badPayload)
        case (.failure(let a), .success) where Self.hasTrailingComma(bytes):
            #expect(a.code == .badPayload)
        default:
            Issue.record("parser \(fast) but reference \(reference)")
        }
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"[{"n":""#.utf8) + [0xC3, 0x28] + Array(#"","v":1}]"#.utf8)
        #expect(Self.outcome { () throws(FleetError) in try SenMLParser().parse(bytes) }.isFailure)
    }

    @Test("unknown values nested past the depth limit are refused, not recursed into")
    func depth() {
        let deep =
            #"[{"n":"x","v":1,"z":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
            + "}]"
        let result = Self.outcome { () throws(FleetError) in try SenMLParser().parse(Array(deep.utf8)) }
        #expect(result.isFailure)
    }

    @Test("random mutations of a valid pack never crash and agree on acceptance")
    func mutations() {
        let seed = Array(Self.inputs[0].utf8)
        var generator = SplitMix64(seed: 42)
        for _ in 0..<3000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8.random(in: 32...126, using: &generator), at: position)
                }
            }
            let fast = Self.outcome { () throws(FleetError) in try SenMLParser().parse(bytes) }
            let reference = Self.outcome { () throws(FleetError) in try SenMLReferenceDecoder().decode(bytes) }
            if case .success(let a) = fast, case .success(let b) = reference {
                #expect(a == b)
            } else if fast.isFailure && !reference.isFailure {
                #expect(Self.hasTrailingComma(bytes), "\(String(decoding: bytes, as: UTF8.self))")
            } else {
                #expect(fast.isFailure == reference.isFailure, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}

/// A small seeded generator so the mutation test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
