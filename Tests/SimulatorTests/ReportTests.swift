import Foundation
import Testing

@testable import Simulator

@Suite("Report rendering")
struct ReportTests {
    static let report = SimulationReport(
        devices: 10, targetRate: 20, elapsedSeconds: 10.04, scheduled: 200, skipped: 0, attempts: 205, retries: 5,
        acknowledgedBatches: 200, acknowledgedRecords: 800, duplicateOnRetry: 1, duplicateOnFirstAttempt: 0,
        failedBatches: 0, inDoubtBatches: 0, recordsPerSecond: 79.68, requestsPerSecond: 19.92,
        latencyMillis: .init(count: 200, p50: 1.234, p90: 2.5, p99: 9.87, p999: 15, max: 15.2),
        answersByStatus: ["200": 200, "503": 5], errorsByCode: ["overloaded": 5], tokenRefreshes: 10,
        tokenRefreshFailures: [:], chaos: .init(), violations: [], verification: nil
    )

    @Test("the table names every figure, aligned")
    func table() {
        let table = Self.report.renderTable()
        #expect(table.contains("records acknowledged    800 (79.7/s)"))
        #expect(table.contains("latency ms p50/p90/p99  1.2 / 2.5 / 9.9"))
        #expect(table.contains("latency ms p99.9/max    15.0 / 15.2"))
        #expect(table.contains("answers by status       200=200 503=5"))
        #expect(table.contains("errors by code          overloaded=5"))
        #expect(table.contains("token refreshes         10"))
        #expect(!table.contains("FAILED"))
        #expect(!table.contains("lost"))
    }

    @Test("violations and verification show in the table and decide the verdict")
    func verdict() {
        var report = Self.report
        report.violations = ["2 corrupt bodies were accepted"]
        report.verification = VerificationResult(
            acknowledged: 800, stored: 799, inDoubtStored: 0, lost: 1, duplicated: 0,
            lostExamples: ["sim-000001 sim-000001/temp @1 ms"], duplicatedExamples: []
        )
        let table = report.renderTable()
        #expect(table.contains("FAILED: 2 corrupt bodies were accepted"))
        #expect(table.contains("lost                    1"))
        #expect(table.contains("lost: sim-000001 sim-000001/temp @1 ms"))
        #expect(!report.passed)
    }

    @Test("the JSON report has stable snake_case keys")
    func json() throws {
        let object = try JSONSerialization.jsonObject(with: try Self.report.jsonData()) as? [String: Any]
        let latency = try #require(object?["latency_ms"] as? [String: Any])
        #expect(latency["p99_9"] as? Double == 15)
        #expect(object?["records_per_second"] as? Double == 79.68)
        #expect((object?["errors_by_code"] as? [String: Int])?["overloaded"] == 5)
        let decoded = try JSONDecoder().decode(SimulationReport.self, from: try Self.report.jsonData())
        #expect(decoded == Self.report)
    }

    @Test("a progress line carries rates, percentiles, retries and errors")
    func progressLine() {
        let line = ProgressReporter.format(
            elapsed: 12, recordsPerSecond: 4000, requestsPerSecond: 1000, p50: 1.25, p99: 7, retries: 3, skipped: 2,
            inFlight: 12, errors: ["overloaded": 3]
        )
        #expect(
            line
                == "12.0 s  4000 records/s  1000 req/s  p50 1.3 ms p99 7.0 ms  retries 3  in-flight 12  skipped 2  errors overloaded=3"
        )
    }

    @Test("durations read as people write them")
    func durations() {
        #expect(parseDuration("30") == .seconds(30))
        #expect(parseDuration("1.5s") == .milliseconds(1500))
        #expect(parseDuration("250ms") == .milliseconds(250))
        #expect(parseDuration("5m") == .seconds(300))
        #expect(parseDuration("1h") == .seconds(3600))
        #expect(parseDuration("soon") == nil)
        #expect(parseDuration("-1") == nil)
    }
}
