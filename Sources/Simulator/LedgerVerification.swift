/// What `verify` found: every acknowledged record stored exactly once, or what differs.
public struct VerificationResult: Sendable, Equatable, Codable {
    /// Records acknowledged by the server.
    public var acknowledged: Int
    /// Rows found in the database for the run's devices and time window.
    public var stored: Int
    /// Records of batches whose outcome the simulator never learned, found stored (allowed).
    public var inDoubtStored: Int
    /// Acknowledged records missing from the database.
    public var lost: Int
    /// Rows beyond what was acknowledged (or in doubt): stored twice, or never acknowledged.
    public var duplicated: Int
    /// The first few lost records.
    public var lostExamples: [String]
    /// The first few over-stored records, with stored and acknowledged counts.
    public var duplicatedExamples: [String]

    /// Nothing lost and nothing twice.
    public var passed: Bool { lost == 0 && duplicated == 0 }

    /// Lines for people: "lost = 0, duplicated = 0" and examples of any difference.
    public var summary: String {
        var lines = [
            "verify: acknowledged = \(acknowledged), stored = \(stored), lost = \(lost), duplicated = \(duplicated)"
        ]
        if inDoubtStored > 0 {
            lines.append("  \(inDoubtStored) records of unacknowledged (in-doubt) batches were stored; that is allowed")
        }
        for example in lostExamples { lines.append("  lost: \(example)") }
        for example in duplicatedExamples { lines.append("  duplicated: \(example)") }
        return lines.joined(separator: "\n")
    }
}

/// The pure comparison behind `verify`: ledger against the rows a database holds, as multisets.
public enum LedgerVerifier {
    /// Compares, per (device, name, time): stored `s`, acknowledged `a`, in doubt `u`.
    /// lost += max(0, a − s); duplicated += max(0, s − a − u).
    public static func compare(
        ledger: Ledger,
        stored: [RecordKey: Int],
        exampleLimit: Int = 5
    ) -> VerificationResult {
        let (acknowledged, inDoubt) = ledger.expectedCounts()
        var lost = 0
        var duplicated = 0
        var inDoubtStored = 0
        var lostKeys: [RecordKey] = []
        var duplicatedKeys: [(RecordKey, Int, Int)] = []
        for (key, expected) in acknowledged {
            let found = stored[key] ?? 0
            if found < expected {
                lost += expected - found
                lostKeys.append(key)
            }
        }
        for (key, found) in stored {
            let expected = acknowledged[key] ?? 0
            let allowed = expected + (inDoubt[key] ?? 0)
            if found > expected { inDoubtStored += min(found, allowed) - expected }
            if found > allowed {
                duplicated += found - allowed
                duplicatedKeys.append((key, found, expected))
            }
        }
        lostKeys.sort()
        duplicatedKeys.sort { $0.0 < $1.0 }
        return VerificationResult(
            acknowledged: acknowledged.values.reduce(0, +),
            stored: stored.values.reduce(0, +),
            inDoubtStored: inDoubtStored,
            lost: lost,
            duplicated: duplicated,
            lostExamples: lostKeys.prefix(exampleLimit).map(\.description),
            duplicatedExamples: duplicatedKeys.prefix(exampleLimit).map { key, found, expected in
                "\(key) stored \(found)×, acknowledged \(expected)×"
            }
        )
    }
}
