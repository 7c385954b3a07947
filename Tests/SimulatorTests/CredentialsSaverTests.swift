import FleetNIO
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import Simulator

@Suite("The credentials file during a run")
struct CredentialsSaverTests {
    /// Answers every refresh with `<presented>+` (a token that lives `expiresIn` seconds) and every
    /// post with 200; at each post, `onPost` runs first (on the server's event loop).
    static func provisioning(
        expiresIn: Int, onPost: @escaping @Sendable () -> Void = {}
    ) async throws -> ScriptedHTTPServer {
        try await ScriptedHTTPServer.start { request in
            guard request.head.uri == "/v1/token" else {
                onPost()
                return .respond(status: 200, body: #"{"accepted":1}"#)
            }
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
        // What the file said each time a post arrived: the run is still sending, so a run killed
        // then leaves these behind. Read by the server as the post arrives, not by a watcher on a
        // clock, so a suite that keeps the test's tasks waiting cannot make the run look unsaved.
        let seenAtPosts = Mutex<[[String]]>([])
        let server = try await Self.provisioning(expiresIn: 2) {
            guard let tokens = try? CredentialsFile.read(from: path).map(\.refreshToken) else { return }
            seenAtPosts.withLock { seen in if seen.last != tokens { seen.append(tokens) } }
        }

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
        // A 2 s token is refreshed after 1 s: rotations all through the run.
        options.tokenRefresh = TokenRefreshPolicy(fraction: 0.5, jitter: 0, minimumDelay: .milliseconds(500))
        options.requestTimeout = .seconds(20)
        var logger = Logger(label: "credentials-saver-test")
        logger.logLevel = .error

        // The run's refresher and saver are tasks; under the full suite (hundreds of tests on two
        // cores) the global executor can keep a new task waiting for seconds. A thread of its own
        // keeps them on the run's timetable, as they are in a simulator process.
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let result = try await withTaskExecutorPreference(EventLoopTaskExecutor(loop.next())) {
            try await runSimulation(options, logger: logger)
        }
        try await server.shutdown()
        try await loop.shutdownGracefully()
        let seen = seenAtPosts.withLock { $0 }

        #expect(seen.first == ["r0+", "r1+", "ru"], "the first posts found the first rotation on disk: \(seen)")
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
