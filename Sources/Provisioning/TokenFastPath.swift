import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import HTTPTypes
import Logging
import NIOCore

/// `POST /v1/token` on the event loop (`FastPathHandler`): the form is read on the connection's
/// loop, the exchange joins the batched statement with a completion instead of a suspended task,
/// and the signature is made back on the loop. Through the router a token took Hummingbird's
/// per-request tasks and three resumptions; `perf` put 0.43 ms of a token's 0.96 ms of CPU
/// outside the signature (BENCHMARKS.md, 2026-12-03).
final class TokenFastPath: FastPathRoute {
    static let path = "/v1/token"

    let tokens: TokenRefresh
    let keyRing: KeyRing
    let logger: Logger

    init(tokens: TokenRefresh, keyRing: KeyRing, logger: Logger) {
        self.tokens = tokens
        self.keyRing = keyRing
        self.logger = logger
    }

    var bodyLimit: Int { RefreshForm.limit }
    var tooLarge: FleetError { RefreshForm.tooLarge }

    func begin(_ head: HTTPRequest) throws(FleetError) -> any FastPathExchange {
        try IdentityEncoding.check(head.headerFields[values: .contentEncoding])
        return Exchange(route: self, contentType: head.headerFields[.contentType])
    }

    /// A token request's state from head to answer, with one reference to the route.
    private final class Exchange: FastPathExchange {
        let route: TokenFastPath
        let contentType: String?

        init(route: TokenFastPath, contentType: String?) {
            self.route = route
            self.contentType = contentType
        }

        func respond(
            body: ByteBuffer, on loop: any EventLoop,
            done: @escaping @Sendable (Result<FastPathAnswer, FleetError>) -> Void
        ) {
            route.respond(contentType: contentType, body: body, on: loop, done: done)
        }
    }

    private func respond(
        contentType: String?, body: ByteBuffer, on loop: any EventLoop,
        done: @escaping @Sendable (Result<FastPathAnswer, FleetError>) -> Void
    ) {
        let exchange: TokenRefresh.Exchange
        do throws(FleetError) {
            exchange = try tokens.exchange(body: body, contentType: contentType)
        } catch {
            return done(.failure(error))
        }
        tokens.run(exchange) { result in
            // The signature is most of a token's CPU: made on the connection's loop, not on the
            // thread of the batch, which has the rest of its batch to resume.
            loop.execute {
                let outcome: RefreshExchange
                do {
                    outcome = try result.get()
                } catch {
                    return done(.failure(self.answerable(error)))
                }
                if let key = self.keyRing.currentKeyIfFresh() {
                    done(
                        self.answer(Result { try self.tokens.answer(outcome, exchange, key: key, logger: self.logger) })
                    )
                } else {
                    // The ring is due for its periodic re-read, which suspends.
                    Task {
                        let answer: Result<AccessTokenAnswer, any Error>
                        do {
                            answer = .success(try await self.tokens.answer(outcome, exchange, logger: self.logger))
                        } catch {
                            answer = .failure(error)
                        }
                        done(self.answer(answer))
                    }
                }
            }
        }
    }

    private func answer(_ result: Result<AccessTokenAnswer, any Error>) -> Result<FastPathAnswer, FleetError> {
        result.map { .json($0.json(), extra: [.cacheControl: "no-store"]) }.mapError(answerable)
    }

    /// As `ProblemMiddleware` maps a route's errors: the database's "unavailable" to 503 (logged),
    /// anything unknown to an `internal_error`, which the handler logs and answers without detail.
    private func answerable(_ error: any Error) -> FleetError {
        if let error = error as? FleetError { return error }
        if let translated = DatabaseUnavailable.fleetError(for: error) {
            if translated.status >= 500 {
                logger.warning(
                    "request failed", metadata: ["error_type": "\(type(of: error))", "answer": "\(translated.code)"])
            }
            return translated
        }
        return FleetError(.internalError, "unhandled error of type \(type(of: error))")
    }
}
