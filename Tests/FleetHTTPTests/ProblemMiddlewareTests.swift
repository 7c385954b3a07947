import FleetCore
import FleetHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Errors become problem+json: internal detail stays in the log, translated errors keep their code")
struct ProblemMiddlewareTests {
    struct LibraryFailure: Error {}
    struct OtherFailure: Error {}

    func app() -> some ApplicationProtocol {
        let router = Router()
        router.add(
            middleware: ProblemMiddleware(translate: { error in
                error is LibraryFailure ? FleetError(.overloaded, "database unavailable", retryAfter: 2) : nil
            }))
        router.get("/internal") { _, _ -> String in
            throw FleetError(.internalError, "exchange_refresh_tokens answered position 7")
        }
        router.get("/library") { _, _ -> String in throw LibraryFailure() }
        router.get("/other") { _, _ -> String in throw OtherFailure() }
        return Application(router: router)
    }

    func problem(_ response: TestResponse) throws -> [String: Any] {
        #expect(response.headers[.contentType] == "application/problem+json")
        return try #require(
            try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test("an internal_error of ours answers 500 without its detail")
    func internalDetailHidden() async throws {
        try await app().test(.router) { client in
            let response = try await client.execute(uri: "/internal", method: .get)
            #expect(response.status == .internalServerError)
            let body = try problem(response)
            #expect(body["code"] as? String == "internal_error")
            #expect(body["detail"] as? String == "internal error")
            #expect(!String(buffer: response.body).contains("exchange_refresh_tokens"))
        }
    }

    @Test("a translated library error answers its contract code; an unknown one 500")
    func translated() async throws {
        try await app().test(.router) { client in
            let unavailable = try await client.execute(uri: "/library", method: .get)
            #expect(unavailable.status == .serviceUnavailable)
            #expect(unavailable.headers[.retryAfter] == "2")
            #expect(try problem(unavailable)["code"] as? String == "overloaded")
            let other = try await client.execute(uri: "/other", method: .get)
            #expect(other.status == .internalServerError)
            #expect(try problem(other)["code"] as? String == "internal_error")
        }
    }
}
