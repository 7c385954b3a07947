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

    struct Exchange: Sendable {
        let headers: HTTPFields
        var enteredInFlight = false
        /// Nil, with no failure, when the token's key must be fetched first.
        var admission: TelemetryIngest.Admission?
        /// The refusal decided so far; the rest of the body is then read and dropped.
        var failure: FleetError?
        var body: ByteBuffer?
    }

    func begin(_ head: HTTPRequest) -> Exchange {
        var exchange = Exchange(headers: head.headerFields)
        do throws(FleetError) {
            try ingest.inFlight.enter()
            exchange.enteredInFlight = true
            exchange.admission = try ingest.admit(head.headerFields)
        } catch {
            exchange.failure = error
        }
        return exchange
    }

    func append(_ buffer: ByteBuffer, to exchange: inout Exchange) {
        guard exchange.failure == nil else { return }
        if exchange.body == nil {
            exchange.body = buffer
        } else {
            exchange.body?.writeImmutableBuffer(buffer)
        }
        if let size = exchange.body?.readableBytes, size > ingest.bodyReader.compressedLimit {
            exchange.failure = ingest.bodyReader.tooLarge
            exchange.body = nil
        }
    }

    func respond(
        _ exchange: Exchange, on loop: any EventLoop,
        done: @escaping @Sendable (Result<FastPathAnswer, FleetError>) -> Void
    ) {
        if let failure = exchange.failure { return done(.failure(failure)) }
        let ingest = ingest
        let body = exchange.body ?? ByteBuffer()
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

    func finish(_ exchange: Exchange) {
        if exchange.enteredInFlight { ingest.inFlight.leave() }
    }

    func refused(_ error: FleetError) {
        ingest.metrics.rejected(error.code)
    }
}
