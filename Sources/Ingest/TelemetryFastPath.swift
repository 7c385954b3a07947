import FleetCore
import FleetHTTP
import FleetStore
import HTTPTypes
import NIOCore

/// `POST /v1/telemetry` on the event loop (`FastPathHandler`): the head's checks, the body,
/// SenML and the hand-over to the group-commit writer run on the connection's loop, and the
/// writer's completion comes back to it, so a post takes no task of its own.
final class TelemetryFastPath: FastPathRoute {
    static let path = "/v1/telemetry"

    let ingest: TelemetryIngest

    init(ingest: TelemetryIngest) {
        self.ingest = ingest
    }

    var bodyLimit: Int { ingest.bodyReader.compressedLimit }
    var tooLarge: FleetError { ingest.bodyReader.tooLarge }

    /// Holds an in-flight slot from here to `finish`; a refused head gives it back at once.
    func begin(_ head: HTTPRequest) throws(FleetError) -> any FastPathExchange {
        try ingest.inFlight.enter()
        do throws(FleetError) {
            return Exchange(route: self, headers: head.headerFields, admission: try ingest.admit(head.headerFields))
        } catch {
            ingest.inFlight.leave()
            throw error
        }
    }

    func refused(_ error: FleetError) {
        ingest.metrics.rejected(error.code)
    }

    /// A post's state from head to answer; one reference to the route, not a copy of `ingest`
    /// (a struct of a dozen references, each retained per post).
    private final class Exchange: FastPathExchange {
        let route: TelemetryFastPath
        let headers: HTTPFields
        /// Nil when the token's key must be fetched first.
        let admission: TelemetryIngest.Admission?

        init(route: TelemetryFastPath, headers: HTTPFields, admission: TelemetryIngest.Admission?) {
            self.route = route
            self.headers = headers
            self.admission = admission
        }

        func respond(
            body: ByteBuffer, on loop: any EventLoop,
            done: @escaping @Sendable (Result<FastPathAnswer, FleetError>) -> Void
        ) {
            route.respond(self, body: body, done: done)
        }

        func finish() {
            route.ingest.inFlight.leave()
        }
    }

    private func respond(
        _ exchange: Exchange, body: ByteBuffer, done: @escaping @Sendable (Result<FastPathAnswer, FleetError>) -> Void
    ) {
        let ingest = ingest
        guard let admission = exchange.admission else {
            let headers = exchange.headers
            Task {
                do throws(FleetError) {
                    let json = try await ingest.commit(ingest.admitRefreshingKeys(headers), body: body)
                    done(.success(.json(ByteBuffer(string: json))))
                } catch {
                    done(.failure(error))
                }
            }
            return
        }
        let batch: TelemetryBatch
        do throws(FleetError) {
            batch = try ingest.batch(admission, body: body)
        } catch {
            return done(.failure(error))
        }
        ingest.writer.submit(batch) { result in
            done(result.map { .json(ByteBuffer(string: ingest.answer($0, device: admission.device))) })
        }
    }
}
