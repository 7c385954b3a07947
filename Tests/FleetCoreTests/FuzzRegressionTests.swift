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

    @Test("the regression directory is not empty")
    func present() {
        #expect(Self.files.count >= 5)
    }

    @Test("parser agrees with the reference; resolver answers", arguments: files)
    func agrees(file: String) throws {
        let bytes = try Self.load(file)
        let fast = SenMLReference.outcome { () throws(FleetError) in try SenMLParser().parse(bytes) }
        switch (fast, SenMLReference.verdict(bytes)) {
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
