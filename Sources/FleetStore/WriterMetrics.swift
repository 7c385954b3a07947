import CoreMetrics

/// The writer's metrics, created once with fixed labels.
public struct WriterMetrics: Sendable {
    public let batchRequests: Recorder
    public let batchRows: Recorder
    public let commitDuration: Timer
    public let commitFailures: Counter
    public let duplicates: Counter
    public let rejectedFull: Counter
    public let queueDepth: Recorder
    public let rowsCommitted: Counter

    public init(factory: any MetricsFactory) {
        batchRequests = Recorder(
            label: "fleetgate_writer_batch_requests", dimensions: [], aggregate: true, factory: factory)
        batchRows = Recorder(label: "fleetgate_writer_batch_rows", dimensions: [], aggregate: true, factory: factory)
        commitDuration = Timer(
            label: "fleetgate_writer_commit_seconds", dimensions: [], preferredDisplayUnit: .seconds, factory: factory)
        commitFailures = Counter(label: "fleetgate_writer_commit_failures_total", dimensions: [], factory: factory)
        duplicates = Counter(label: "fleetgate_telemetry_duplicates_total", dimensions: [], factory: factory)
        rejectedFull = Counter(label: "fleetgate_writer_queue_full_total", dimensions: [], factory: factory)
        queueDepth = Recorder(label: "fleetgate_writer_queue_rows", dimensions: [], aggregate: false, factory: factory)
        rowsCommitted = Counter(label: "fleetgate_telemetry_records_committed_total", dimensions: [], factory: factory)
    }

    func recordCommit(requests: Int, rows: Int, duration: Duration) {
        batchRequests.record(requests)
        batchRows.record(rows)
        rowsCommitted.increment(by: rows)
        commitDuration.recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
