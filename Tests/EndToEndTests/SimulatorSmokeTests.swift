import FleetTestSupport
import Foundation
import HummingbirdTesting
import Logging
import Simulator
import Testing

/// Issue 5: the simulator's smoke scenario against both services, verified against PostgreSQL.
@Suite("Simulator smoke scenario against both services")
struct SimulatorSmokeTests {
    static var scenarioPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("simulator/smoke.json").path
    }

    @Test("every acknowledged batch is stored exactly once: lost = 0, duplicated = 0")
    func smoke() async throws {
        try await TestStack.run { stack in
            var options = SimulationOptions()
            try ScenarioFile.read(from: Self.scenarioPath).apply(to: &options)
            // The scenario's 10 devices and rate, for 4 s instead of 10 to keep `make test` quick.
            options.duration = .seconds(4)
            options.provisioningURL = "http://127.0.0.1:\(stack.provisioning.port!)"
            options.ingestURL = "http://127.0.0.1:\(stack.ingest.port!)"
            options.operatorLogin = .init(username: TestStack.adminUser, password: TestStack.adminPassword)
            options.progress = .none
            options.seed = 7
            var logger = Logger(label: "simulator-smoke")
            logger.logLevel = .error
            let result = try await runSimulation(options, logger: logger)
            #expect(result.report.devices == 10)
            #expect(result.report.acknowledgedBatches > 0)
            #expect(result.report.acknowledgedRecords == result.report.acknowledgedBatches * 4)
            let verification = try await verifyLedger(result.ledger, databaseURL: stack.databaseURL, logger: logger)
            #expect(verification.lost == 0)
            #expect(verification.duplicated == 0)
            #expect(result.report.passed, "\(result.report.violations)")
            let rows = try await TestDatabase.scalar(stack.databaseURL, "SELECT count(*)::int8 FROM telemetry")
            #expect(rows == result.report.acknowledgedRecords)
        }
    }
}
