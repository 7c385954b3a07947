import FleetCore
import Foundation
import Testing

/// Inputs `make fuzz` found (Fuzz/regressions/senml/), kept so that the bug stays fixed: the
/// hand-written parser must not crash, must agree with the reference, and the resolver must
/// answer with a contract error or records.
@Suite("SenML inputs found by fuzzing")
struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/regressions/senml")

    static let files: [String] =
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()

    static func load(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func outcome(_ body: () throws(FleetError) -> [SenMLRecord]) -> Result<[SenMLRecord], FleetError> {
        do {
            return .success(try body())
        } catch {
            return .failure(error)
        }
    }

    /// The reference verdict Fuzz/fuzz-senml.swift uses: `SenMLReferenceDecoder`, and the whole text
    /// is RFC 8259 JSON (JSONDecoder skips ignored values unchecked and takes trailing commas).
    static func reference(_ bytes: [UInt8]) -> Result<[SenMLRecord], FleetError> {
        outcome { () throws(FleetError) in
            guard !hasTrailingComma(bytes), !Self.hasInfiniteNumber(bytes),
                (try? JSONSerialization.jsonObject(with: Data(bytes))) != nil
            else {
                throw FleetError(.badPayload, "not RFC 8259 JSON")
            }
            return try SenMLReferenceDecoder().decode(Self.zeroExponentSigned(bytes))
        }
    }

    /// JSONDecoder refuses `0e5` (zero, then an exponent without a sign), valid RFC 8259 JSON that it
    /// reads fine as `0e+5`; the reference gets the sign added. Found by `make fuzz`.
    static func zeroExponentSigned(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            out.append(byte)
            index += 1
            if inString {
                if byte == UInt8(ascii: "\\"), index < bytes.count {
                    out.append(bytes[index])
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "0"), index + 1 < bytes.count,
                bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E"),
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index + 1]),
                index < 2 || !"0123456789.eE+".utf8.contains(bytes[index - 2])
            {
                out.append(bytes[index])
                out.append(UInt8(ascii: "+"))
                index += 1
            }
        }
        return out
    }

    /// JSONSerialization reads only the last value of a repeated key, so `{"t":1e999,"t":1}` passes
    /// it, while a lone `1e999` does not; the parser, rightly, refuses any number beyond a Double's
    /// range. The reference refuses such a text too. Found by `make fuzz`.
    static func hasInfiniteNumber(_ bytes: [UInt8]) -> Bool {
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                index += 1
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                index += 1
            } else if byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                var end = index
                while end < bytes.count, "0123456789+-.eE".utf8.contains(bytes[end]) { end += 1 }
                let value = strtod(String(decoding: bytes[index..<end], as: UTF8.self), nil)
                if !value.isFinite { return true }
                index = end
            } else {
                index += 1
            }
        }
        return false
    }

    static func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: ",") {
                var next = index
                while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: "]") || bytes[next] == UInt8(ascii: "}") {
                    return true
                }
            }
        }
        return false
    }

    @Test("the regression directory is not empty")
    func present() {
        #expect(Self.files.count >= 5)
    }

    @Test("parser agrees with the reference; resolver answers", arguments: files)
    func agrees(file: String) throws {
        let bytes = try Self.load(file)
        let fast = Self.outcome { () throws(FleetError) in try SenMLParser().parse(bytes) }
        switch (fast, Self.reference(bytes)) {
        case (.success(let a), .success(let b)):
            #expect(a == b)
            do {
                _ = try SenMLResolver().resolve(a, now: 1_764_400_000)
            } catch {
                #expect([.badPayload, .badTimestamp, .tooManyRecords].contains(error.code))
            }
        case (.failure(let a), .failure):
            #expect(a.code == .badPayload)
        case (let a, let b):
            Issue.record("parser \(a) but reference \(b)")
        }
    }

    @Test("a repeated field keeps its first value, as JSONDecoder does")
    func duplicate() throws {
        let records = try SenMLParser().parse(Array(#"[{"n":"x","t":1,"v":2,"t":3,"v":"ignored"}]"#.utf8))
        #expect(records == [SenMLRecord(name: "x", time: 1, value: 2)])
    }

    @Test("unknown values nest up to 510 levels, JSONDecoder's limit")
    func depth() throws {
        #expect(throws: Never.self) { try SenMLParser().parse(try Self.load("nested-510.json")) }
        #expect(throws: FleetError.self) { try SenMLParser().parse(try Self.load("nested-511.json")) }
    }

    @Test("a time beyond Int's range is bad_timestamp, not a trap")
    func hugeTime() throws {
        let records = try SenMLParser().parse(try Self.load("time-beyond-int.json"))
        #expect(throws: FleetError.self) { try SenMLResolver().resolve(records, now: 1_764_400_000) }
        do {
            _ = try SenMLResolver().resolve(records, now: 1_764_400_000)
        } catch {
            #expect(error.code == .badTimestamp)
        }
    }
}
