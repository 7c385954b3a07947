import FleetCore

/// One accepted post, resolved and validated, waiting to be committed.
public struct TelemetryBatch: Sendable {
    public let deviceID: String
    public let idempotencyKey: String?
    public let records: [ResolvedRecord]

    public init(deviceID: String, idempotencyKey: String?, records: [ResolvedRecord]) {
        self.deviceID = deviceID
        self.idempotencyKey = idempotencyKey
        self.records = records
    }
}

/// What became of a batch once its transaction committed.
public enum WriteOutcome: Sendable, Equatable {
    /// The records are committed.
    case stored(Int)
    /// The idempotency key was seen within its window; nothing new was stored.
    case duplicate
}

/// Commits telemetry batches; answers only after commit.
public protocol TelemetryWriting: Sendable {
    /// Stores the batch whole or not at all; throws `overloaded` when it cannot.
    func write(_ batch: TelemetryBatch) async throws(FleetError) -> WriteOutcome

    /// `write` for a caller that is not a task (the ingest event-loop fast path): `completion` runs
    /// once, after commit or refusal, on a thread of the writer's choosing.
    func submit(_ batch: TelemetryBatch, completion: @escaping @Sendable (Result<WriteOutcome, FleetError>) -> Void)
}

extension TelemetryWriting {
    public func submit(
        _ batch: TelemetryBatch, completion: @escaping @Sendable (Result<WriteOutcome, FleetError>) -> Void
    ) {
        Task {
            do throws(FleetError) {
                completion(.success(try await write(batch)))
            } catch {
                completion(.failure(error))
            }
        }
    }
}
