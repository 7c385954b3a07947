#if canImport(Glibc)  // RawPipeline's sockets; Linux is where `make test` runs
    import FleetCore
    import FleetTestSupport
    import Foundation
    import HTTPTypes
    import HummingbirdTesting
    import Logging
    import NIOCore
    import Provisioning
    import Testing

    /// `TokenFastPath` (through `FastPathHandler`) answers `POST /v1/token` on the event loop and
    /// passes every other request to the router; these check what that split must not change.
    @Suite("Provisioning's event-loop token path")
    struct TokenFastPathTests {
        @Test("pipelined token requests and other requests are answered in request order, by the path expected")
        func pipelinedInOrder() async throws {
            let capture = LogCapture()
            try await ProvisioningHarness.run(logger: capture.logger(), configure: { $0.logLevel = .debug }) { h in
                let admin = try await h.login()
                var refresh: [String] = []
                for index in 0..<5 {
                    refresh.append(
                        try #require(try await h.enroll("fp-\(index)", token: admin)["refresh_token"] as? String))
                }
                func token(_ refreshToken: String, close: Bool = false) -> String {
                    RawPipeline.request(
                        "POST", "/v1/token", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                        body: "grant_type=refresh_token&refresh_token=\(refreshToken)", close: close)
                }
                let port = h.client.port!
                // Token requests alone, a refused one among them: each answered on the event loop.
                let alone = try await RawPipeline.exchange(
                    port: port,
                    requests: [token(refresh[0]), token("not-a-refresh-token"), token(refresh[1], close: true)])
                #expect(alone.answers.map(\.status) == [200, 401, 200])
                #expect(alone.closedByServer)
                // Behind a router request, token requests go to the router until it has answered.
                let mixed = try await RawPipeline.exchange(
                    port: port,
                    requests: [
                        token(refresh[2]), RawPipeline.request("GET", "/healthz"), token(refresh[3]),
                        RawPipeline.request("GET", "/v1/token"), token(refresh[4], close: true),
                    ])
                #expect(mixed.answers.map(\.status) == [200, 200, 200, 405, 200])
                #expect(mixed.closedByServer)
                let answers = alone.answers + mixed.answers
                guard answers.count == 8 else { return }
                #expect(answers[1].body.contains(#""code":"invalid_refresh_token""#))
                #expect(answers[1].headers["content-type"] == "application/problem+json")
                #expect(answers[6].body.contains(#""code":"method_not_allowed""#))
                var successors: [String] = []
                for (index, device) in [(0, "fp-0"), (2, "fp-1"), (3, "fp-2"), (5, "fp-3"), (7, "fp-4")] {
                    let answer = answers[index]
                    #expect(answer.headers["content-type"] == "application/json")
                    #expect(answer.headers["cache-control"] == "no-store")
                    let object = try TestStack.object(.init(string: answer.body))
                    let access = try #require(object["access_token"] as? String)
                    let payload = try #require(Base64URL.decode(access.split(separator: ".")[1]))
                    let claims = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
                    #expect(claims["sub"] as? String == device)
                    successors.append(try #require(object["refresh_token"] as? String))
                }
                for answer in answers {
                    #expect(answer.headers["server"] == "fleetgate-provisioning")
                    #expect(answer.headers["date"]?.hasSuffix(" GMT") == true)
                }
                // The router's request log carries its request id; the event-loop path's does not.
                let logged = capture.events.filter {
                    $0.message == "request" && $0.metadata["path"] == "/v1/token" && $0.metadata["method"] == "POST"
                }
                #expect(logged.filter { $0.metadata["hb.request.id"] == nil }.count == 4)
                #expect(logged.filter { $0.metadata["hb.request.id"] != nil }.count == 2)
                // Each exchange rotated: the successors work, the presented tokens are spent.
                for successor in successors { #expect(try await h.refresh(successor).status == .ok) }
                h.clock.advance(by: 61)
                for presented in refresh { #expect(try await h.refresh(presented).status == .unauthorized) }
            }
        }

        @Test("a token request with a Content-Encoding is 415 and exchanges nothing")
        func contentEncodingRefused() async throws {
            try await ProvisioningHarness.run { h in
                let admin = try await h.login()
                let refresh = try #require(try await h.enroll("fp-enc", token: admin)["refresh_token"] as? String)
                let refused = try await h.call(
                    .post, "/v1/token", body: "grant_type=refresh_token&refresh_token=\(refresh)",
                    contentType: "application/x-www-form-urlencoded", headers: [.contentEncoding: "gzip"])
                #expect(refused.status == .unsupportedMediaType)
                #expect(ProvisioningHarness.code(refused) == "unsupported_media_type")
                // Not exchanged: past the grace window, the refresh token is still the device's current one.
                h.clock.advance(by: 61)
                #expect(try await h.refresh(refresh).status == .ok)
            }
        }

        @Test(
            "once the key ring is due for its re-read, a device token is signed with the key another replica made current"
        )
        func signsWithRotatedKeyAfterWindow() async throws {
            let clock = FakeClock()
            try await ProvisioningHarness.runTwo(clock: clock) { a, b in
                let admin = try await a.login()
                let oldKid = try ProvisioningHarness.kid(admin)
                var refresh = try #require(try await a.enroll("fp-ring", token: admin)["refresh_token"] as? String)
                func deviceKid() async throws -> String {
                    let answer = try ProvisioningHarness.object(try await b.refresh(refresh))
                    refresh = try #require(answer["refresh_token"] as? String)
                    return try ProvisioningHarness.kid(try #require(answer["access_token"] as? String))
                }
                #expect(try await deviceKid() == oldKid)
                let rotate = try await a.call(.post, "/v1/keys/rotate", token: admin)
                let newKid = try #require(try ProvisioningHarness.object(rotate)["kid"] as? String)
                // Within B's window it signs with the key it has (still published)...
                #expect(try await deviceKid() == oldKid)
                // ...and past it, its first request, a device's, reads the ring before signing.
                clock.advance(by: 11)
                #expect(try await deviceKid() == newKid)
            }
        }
    }
#endif
