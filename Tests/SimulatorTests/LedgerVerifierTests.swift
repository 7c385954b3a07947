import Foundation
import Testing

@testable import Simulator

@Suite("Ledger verification")
struct LedgerVerifierTests {
    let ledger = Ledger(
        sensorNames: ["temp", "humidity"],
        batches: [
            LedgerBatch(deviceID: "d1", idempotencyKey: "k1", baseTimeMillis: 1000, recordCount: 4, acknowledged: true),
            LedgerBatch(deviceID: "d2", idempotencyKey: "k2", baseTimeMillis: 5000, recordCount: 2, acknowledged: true),
        ]
    )

    func stored(_ ledger: Ledger) -> [RecordKey: Int] {
        ledger.expectedCounts().acknowledged
    }

    @Test("expands a batch into named, timed records")
    func records() {
        let records = ledger.records(of: ledger.batches[0])
        #expect(records.map(\.name) == ["d1/temp", "d1/humidity", "d1/temp", "d1/humidity"])
        #expect(records.map(\.timeMillis) == [1000, 1000, 1001, 1001])
        #expect(ledger.timeRange == 1000...5000)
        #expect(ledger.deviceIDs == ["d1", "d2"])
    }

    @Test("exactly what was acknowledged passes: lost = 0, duplicated = 0")
    func exact() {
        let result = LedgerVerifier.compare(ledger: ledger, stored: stored(ledger))
        #expect(result.passed)
        #expect(result.acknowledged == 6 && result.stored == 6)
        #expect(result.summary.hasPrefix("verify: acknowledged = 6, stored = 6, lost = 0, duplicated = 0"))
    }

    @Test("a missing record is lost, and named")
    func lost() {
        var rows = stored(ledger)
        rows[RecordKey(deviceID: "d1", name: "d1/humidity", timeMillis: 1001)] = nil
        let result = LedgerVerifier.compare(ledger: ledger, stored: rows)
        #expect(result.lost == 1 && result.duplicated == 0 && !result.passed)
        #expect(result.lostExamples == ["d1 d1/humidity @1001 ms"])
    }

    @Test("a record stored twice is duplicated, and named")
    func doubled() {
        var rows = stored(ledger)
        rows[RecordKey(deviceID: "d2", name: "d2/temp", timeMillis: 5000)] = 2
        let result = LedgerVerifier.compare(ledger: ledger, stored: rows)
        #expect(result.lost == 0 && result.duplicated == 1 && !result.passed)
        #expect(result.duplicatedExamples == ["d2 d2/temp @5000 ms stored 2×, acknowledged 1×"])
    }

    @Test("a lost and a doubled record are both reported")
    func both() {
        var rows = stored(ledger)
        rows[RecordKey(deviceID: "d1", name: "d1/temp", timeMillis: 1000)] = nil
        rows[RecordKey(deviceID: "d2", name: "d2/humidity", timeMillis: 5000)] = 3
        rows[RecordKey(deviceID: "d2", name: "d2/unknown", timeMillis: 5000)] = 1
        let result = LedgerVerifier.compare(ledger: ledger, stored: rows)
        #expect(result.lost == 1)
        #expect(result.duplicated == 3)
    }

    @Test("records of an in-doubt batch may be stored once, not twice, and need not be")
    func inDoubt() {
        var withDoubt = ledger
        withDoubt.batches.append(
            LedgerBatch(deviceID: "d3", idempotencyKey: "k3", baseTimeMillis: 9000, recordCount: 1, acknowledged: false)
        )
        let absent = LedgerVerifier.compare(ledger: withDoubt, stored: stored(ledger))
        #expect(absent.passed)
        var rows = stored(ledger)
        rows[RecordKey(deviceID: "d3", name: "d3/temp", timeMillis: 9000)] = 1
        let present = LedgerVerifier.compare(ledger: withDoubt, stored: rows)
        #expect(present.passed && present.inDoubtStored == 1)
        rows[RecordKey(deviceID: "d3", name: "d3/temp", timeMillis: 9000)] = 2
        #expect(LedgerVerifier.compare(ledger: withDoubt, stored: rows).duplicated == 1)
    }

    @Test("the ledger file round-trips")
    func file() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).ndjson")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try LedgerFile.write(ledger, to: path)
        #expect(try LedgerFile.read(from: path) == ledger)
    }
}

@Suite("The --verify database URL, checked before a run")
struct DatabaseURLCheckTests {
    @Test("a URL verifyLedger could not use is refused by name, never echoed")
    func refused() {
        for url in ["", "localhost:5432/db", "mysql://u@h/db", "postgres://h/db", "postgres://u@h/db?sslmode=maybe"] {
            do {
                try validateDatabaseURL(url)
                Issue.record("accepted \(url)")
            } catch {
                #expect(error.message.hasPrefix("--database-url"), "\(url): \(error.message)")
            }
        }
        #expect(
            (try? validateDatabaseURL("postgres://fleetgate:secret@127.0.0.1:54329/fleetgate?sslmode=disable")) != nil)
    }
}
