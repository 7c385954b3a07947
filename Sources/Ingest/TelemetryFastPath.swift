import FleetCore
import FleetHTTP
import FleetStore
import HTTPTypes
import NIOCore

/// `POST /v1/telemetry` on the event loop (`FastPathHandler`): the head's checks, the body,
/// SenML and the hand-over to the group-commit writer run on the connection's loop, and the
/// writer's completion comes back to it, so a post takes no task of its own.
struct TelemetryFastPath: FastPathRoute {
    static let path = "/v1/telemetry"

    let ingest: TelemetryIngest

    var bodyLimit: Int { ingest.bodyReader.compressedLimit }
    var tooLarge: FleetError { ingest.bodyReader.tooLarge }

    /// Holds an in-flight slot from here to `finish`; a refused head gives it back at once.
    func begin(_ head: HTTPRequest) throws(FleetError) -> any FastPathExchange {
        try ingest.inFlight.enter()
        do throws(FleetError) {
            return Exchange(ingest: ingest, headers: head.headerFields, admission: try ingest.admit(head.headerFields))
        } catch {
            ingest.inFlight.leave()
            throw error
        }
    }

    func refused(_ error: FleetError) {
        ingest.metrics.rejected(error.code)
    }

    final class Exchange: FastPathExchange {
        let ingest: TelemetryIngest
        let headers: HTTPFields
        /// Nil when the token's key must be fetched first.
        let admission: TelemetryIngest.Admission?

        init(ingest: TelemetryIngest, headers: HTTPFields, admission: TelemetryIngest.Admission?) {
            self.ingest = ingest
            self.headers = headers
            self.admission = admission
        }

        func respond(
            body: ByteBuffer, on loop: any EventLoop,
            done: @escaping @Sendable (Result<FastPathAnswer, FleetError>) -> Void
        ) {
            let ingest = ingest
            guard let admission else {
                let headers = headers
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

        func finish() {
            ingest.inFlight.leave()
        }
    }
}
