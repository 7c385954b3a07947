import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import Simulator

@Suite("Credentials, scenarios and answers")
struct FilesAndAnswersTests {
    @Test("the credentials file round-trips and is mode 0600")
    func credentials() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "credentials-\(UUID().uuidString).ndjson"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let credentials = [
            DeviceCredential(id: "sim-000001", fleet: "f", refreshToken: "r/1"),
            DeviceCredential(id: "sim-000002", fleet: nil, refreshToken: "r2"),
        ]
        try CredentialsFile.write(credentials, to: path)
        #expect(try CredentialsFile.read(from: path) == credentials)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix(#"{"fleet":"f","id":"sim-000001","refresh_token":"r/1"}"#))
    }

    @Test("every scenario in simulator/ decodes, says what it proves, and validates")
    func scenarios() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../simulator"
        ).standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        #expect(Set(files).isSuperset(of: ["smoke.json", "steady.json", "burst.json", "chaos.json"]))
        for file in files {
            let scenario = try ScenarioFile.read(from: directory.appendingPathComponent(file).path)
            #expect(scenario.proves?.isEmpty == false, "\(file) must say what it proves")
            var options = SimulationOptions()
            options.operatorLogin = .init(username: "admin", password: "x")
            scenario.apply(to: &options)
            #expect(throws: Never.self) { try options.validate() }
        }
        let smoke = try ScenarioFile.read(from: directory.appendingPathComponent("smoke.json").path)
        #expect(smoke.devices == 10 && smoke.duration == 10)
    }

    @Test("reads acceptance and duplicate answers")
    func acceptance() {
        #expect(
            FleetgateClient.acceptance(ByteBuffer(string: #"{"accepted": 4}"#))
                == .accepted(records: 4, duplicate: false))
        #expect(
            FleetgateClient.acceptance(ByteBuffer(string: #"{"accepted":0,"duplicate":true}"#))
                == .accepted(records: 0, duplicate: true))
    }

    @Test("reads the code and Retry-After of a problem answer")
    func problem() {
        let body = Data(#"{"type":"about:blank","title":"Overloaded","status":503,"code":"overloaded"}"#.utf8)
        let problem = FleetgateClient.problem(status: 503, body: body, headers: ["Retry-After": "2"])
        #expect(problem == ProblemAnswer(status: 503, code: "overloaded", retryAfter: .seconds(2)))
        #expect(FleetgateClient.problem(status: 502, body: Data("<html>".utf8), headers: [:]).code == "http_502")
    }

    @Test("options are checked and name the option at fault")
    func validation() {
        var options = SimulationOptions()
        options.recordsPerBatch = 0
        #expect(throws: SimulatorError("--records-per-batch must be in 1...10000")) { try options.validate() }
        options = SimulationOptions()
        options.revokeFraction = 0.1
        #expect(throws: SimulatorError("--revoke-fraction needs --admin-user and a password")) {
            try options.validate()
        }
        #expect(SimulationOptions.Rate.perDevice(2).total(devices: 10) == 20)
        #expect(
            EnrollmentOptions(operatorLogin: .init(username: "a", password: "b"), devices: 10).deviceID(7)
                == "sim-000007")
    }
}
