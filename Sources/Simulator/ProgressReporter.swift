import Histogram

/// Live progress: one line redrawn with \r on a terminal, a plain line every few seconds
/// otherwise (logs and CI do not want carriage returns).
struct ProgressReporter: Sendable {
    let mode: ProgressMode
    let statistics: RunStatistics
    let inFlight: @Sendable () -> Int

    var redraws: Bool { mode == .automatic && Terminal.standardOutputIsTerminal }

    /// Prints until cancelled.
    func run(start: ContinuousClock.Instant) async {
        guard mode != .none else { return }
        let clock = ContinuousClock()
        let interval: Duration = redraws ? .seconds(1) : .seconds(5)
        var last = Snapshot(time: start, records: 0, answers: 0)
        while !Task.isCancelled {
            do { try await clock.sleep(for: interval) } catch { break }
            let now = clock.now
            let line = statistics.withState { state -> String in
                let current = Snapshot(time: now, records: state.acknowledgedRecords, answers: state.attempts)
                let seconds = (current.time - last.time).seconds
                let p50 = Double(state.intervalLatency.valueAtPercentile(50)) / 1000
                let p99 = Double(state.intervalLatency.valueAtPercentile(99)) / 1000
                let empty = state.intervalLatency.totalCount == 0
                state.intervalLatency.reset()
                defer { last = current }
                return Self.format(
                    elapsed: (now - start).seconds,
                    recordsPerSecond: Double(current.records - last.records) / seconds,
                    requestsPerSecond: Double(current.answers - last.answers) / seconds,
                    p50: empty ? nil : p50,
                    p99: empty ? nil : p99,
                    retries: state.retries,
                    skipped: state.skipped,
                    inFlight: inFlight(),
                    errors: state.errorsByCode
                )
            }
            Terminal.print(redraws ? "\r" + line + "\u{1B}[K" : line + "\n")
        }
        if redraws { Terminal.print("\n") }
    }

    struct Snapshot {
        var time: ContinuousClock.Instant
        var records: Int
        var answers: Int
    }

    /// One progress line; pure, so tests can read it.
    static func format(
        elapsed: Double,
        recordsPerSecond: Double,
        requestsPerSecond: Double,
        p50: Double?,
        p99: Double?,
        retries: Int,
        skipped: Int,
        inFlight: Int,
        errors: [String: Int]
    ) -> String {
        let latency =
            p50.map { "p50 \(SimulationReport.number($0)) ms p99 \(SimulationReport.number(p99 ?? 0)) ms" }
            ?? "p50 - p99 -"
        var line =
            "\(SimulationReport.number(elapsed)) s  \(SimulationReport.number(recordsPerSecond)) records/s  "
            + "\(SimulationReport.number(requestsPerSecond)) req/s  \(latency)  retries \(retries)  in-flight \(inFlight)"
        if skipped > 0 { line += "  skipped \(skipped)" }
        if !errors.isEmpty { line += "  errors " + SimulationReport.counts(errors) }
        return line
    }
}
