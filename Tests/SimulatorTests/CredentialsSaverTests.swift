import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import Simulator

@Suite("The credentials file during a run")
struct CredentialsSaverTests {
    /// Answers every refresh with `<presented>+` (a token that lives `expiresIn` seconds) and every post with 200.
    static func provisioning(expiresIn: Int) async throws -> ScriptedHTTPServer {
        try await ScriptedHTTPServer.start { request in
            guard request.head.uri == "/v1/token" else { return .respond(status: 200, body: #"{"accepted":1}"#) }
            let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: String]
            let rotated = (body?["refresh_token"] ?? "?") + "+"
            return .respond(
                status: 200,
                body:
                    #"{"access_token":"a.b.c","token_type":"Bearer","expires_in":\#(expiresIn),"refresh_token":"\#(rotated)"}"#
            )
        }
    }

    @Test("rotated refresh tokens are on disk while the run goes on, at start and after each rotation, mode 0600")
    func savedDuringRun() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "credentials-\(UUID().uuidString).ndjson"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try CredentialsFile.write(
            [
                DeviceCredential(id: "dev-0", fleet: "f", refreshToken: "r0"),
                DeviceCredential(id: "dev-1", fleet: "f", refreshToken: "r1"),
                DeviceCredential(id: "unused", fleet: "f", refreshToken: "ru"),
            ], to: path)
        let server = try await Self.provisioning(expiresIn: 2)

        var options = SimulationOptions()
        options.credentialsFile = path
        options.devices = 2
        options.rate = .total(4)
        options.recordsPerBatch = 1
        options.duration = .seconds(8)
        options.progress = .none
        options.seed = 3
        options.provisioningURL = "http://127.0.0.1:\(server.port)"
        options.ingestURL = "http://127.0.0.1:\(server.port)"
        // A 2 s token is refreshed after 1 s: a rotation in the middle of the run.
        options.tokenRefresh = TokenRefreshPolicy(fraction: 0.5, jitter: 0, minimumDelay: .milliseconds(500))
        options.requestTimeout = .seconds(20)
        var logger = Logger(label: "credentials-saver-test")
        logger.logLevel = .error

        // What the file said while the run was still sending (its 8 s are not over before 7.5 s):
        // a run killed then leaves these behind. Rotations come every second or so; the long run
        // leaves room for a suite that starves this watcher of CPU for a few seconds.
        let watchUntil = ContinuousClock.now + .seconds(7.5)
        let watching = Task {
            var seen: [[String]] = []
            while ContinuousClock.now < watchUntil {
                if let tokens = try? CredentialsFile.read(from: path).map(\.refreshToken), seen.last != tokens {
                    seen.append(tokens)
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return seen
        }
        let result = try await runSimulation(options, logger: logger)
        try await server.shutdown()
        let seen = await watching.value

        #expect(
            seen.contains(["r0+", "r1+", "ru"]), "the first rotation reached the file before the run ended: \(seen)")
        #expect(seen.contains { $0[0].hasPrefix("r0++") }, "a rotation during the run reached the file: \(seen)")
        let onDisk = try CredentialsFile.read(from: path)
        #expect(onDisk.map(\.refreshToken) == result.credentials.map(\.refreshToken) + ["ru"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("the saver writes only the devices the run used over their lines, keeping the others")
    func merge() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "credentials-\(UUID().uuidString).ndjson"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try CredentialsFile.write(
            [
                DeviceCredential(id: "a", fleet: "f", refreshToken: "ra"),
                DeviceCredential(id: "b", fleet: "f", refreshToken: "rb"),
            ], to: path)
        let start = ContinuousClock.now
        let tokens = TokenKeeper(
            credentials: [DeviceCredential(id: "b", fleet: "f", refreshToken: "rb")], policy: TokenRefreshPolicy(),
            now: start, seed: 1)
        let saver = CredentialsSaver(path: path, logger: Logger(label: "test"))
        #expect(saver.save(tokens) == 0)
        _ = tokens.takeDue(now: start)
        tokens.complete(index: 0, grant: TokenGrant(accessToken: "t", expiresIn: 3600, refreshToken: "rb2"), now: start)
        #expect(saver.save(tokens) == 1)
        #expect(try CredentialsFile.read(from: path).map(\.refreshToken) == ["ra", "rb2"])
    }
}
