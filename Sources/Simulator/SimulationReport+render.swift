extension SimulationReport {
    /// The report as an aligned table for a terminal.
    public func renderTable() -> String {
        var rows: [(String, String)] = [
            ("devices", "\(devices)"),
            ("target rate", "\(Self.number(targetRate)) req/s"),
            ("elapsed", "\(Self.number(elapsedSeconds)) s"),
            ("records acknowledged", "\(acknowledgedRecords) (\(Self.number(recordsPerSecond))/s)"),
            ("batches acknowledged", "\(acknowledgedBatches) (\(Self.number(requestsPerSecond)) req/s)"),
            ("scheduled / skipped", "\(scheduled) / \(skipped)"),
            ("attempts / retries", "\(attempts) / \(retries)"),
            ("failed / in doubt", "\(failedBatches) / \(inDoubtBatches)"),
            ("duplicate on retry", "\(duplicateOnRetry)"),
            (
                "latency ms p50/p90/p99",
                "\(Self.number(latencyMillis.p50)) / \(Self.number(latencyMillis.p90)) / \(Self.number(latencyMillis.p99))"
            ),
            ("latency ms p99.9/max", "\(Self.number(latencyMillis.p999)) / \(Self.number(latencyMillis.max))"),
            ("answers by status", Self.counts(answersByStatus)),
            ("errors by code", Self.counts(errorsByCode)),
            ("token refreshes", "\(tokenRefreshes)"),
        ]
        if !tokenRefreshFailures.isEmpty { rows.append(("token refresh failures", Self.counts(tokenRefreshFailures))) }
        if chaos != Chaos() {
            rows.append(("corrupt sent / accepted", "\(chaos.corruptSent) / \(chaos.corruptAccepted)"))
            rows.append(("revoked / accepted after", "\(chaos.revokedDevices) / \(chaos.acceptedAfterRevocation)"))
        }
        if let verification {
            rows.append(("lost", "\(verification.lost)"))
            rows.append(("duplicated", "\(verification.duplicated)"))
        }
        let width = rows.map(\.0.count).max() ?? 0
        var lines = rows.map { name, value in
            name + String(repeating: " ", count: width - name.count) + "  " + value
        }
        for violation in violations { lines.append("FAILED: \(violation)") }
        if let verification {
            lines.append(contentsOf: verification.summary.split(separator: "\n").dropFirst().map(String.init))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `count` with at most one decimal for small values: "12.3", "20000".
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        if value >= 100 { return String(Int64(value.rounded())) }
        let tenths = Int64((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// "200=41 503=3", sorted by key; "-" when empty.
    static func counts(_ counts: [String: Int]) -> String {
        counts.isEmpty ? "-" : counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
