/// One batch the simulator sent: which device, under which Idempotency-Key, and which records.
///
/// The records are named by rule rather than stored (see `SenMLBatchWriter`): record `j` is
/// `<device>/<sensors[j % sensors.count]>` at `baseTimeMillis + j / sensors.count` ms. That keeps
/// a million-batch ledger to tens of megabytes.
public struct LedgerBatch: Sendable, Equatable, Codable {
    /// The device that posted it (the token's `sub`).
    public var deviceID: String
    /// The Idempotency-Key used by every attempt.
    public var idempotencyKey: String
    /// Time of the first record, Unix milliseconds.
    public var baseTimeMillis: Int64
    /// Records in the batch.
    public var recordCount: Int
    /// `true` when the server answered 200; `false` when the outcome is unknown (every attempt
    /// timed out or lost its connection), so the batch may or may not be stored.
    public var acknowledged: Bool

    public init(deviceID: String, idempotencyKey: String, baseTimeMillis: Int64, recordCount: Int, acknowledged: Bool) {
        self.deviceID = deviceID
        self.idempotencyKey = idempotencyKey
        self.baseTimeMillis = baseTimeMillis
        self.recordCount = recordCount
        self.acknowledged = acknowledged
    }

    enum CodingKeys: String, CodingKey {
        case deviceID = "device"
        case idempotencyKey = "key"
        case baseTimeMillis = "bt_ms"
        case recordCount = "records"
        case acknowledged = "acked"
    }
}

/// Identity of one stored record: what `verify` counts in PostgreSQL.
public struct RecordKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var deviceID: String
    /// Resolved SenML name (`bn` + `n`).
    public var name: String
    /// Record time, Unix milliseconds.
    public var timeMillis: Int64

    public init(deviceID: String, name: String, timeMillis: Int64) {
        self.deviceID = deviceID
        self.name = name
        self.timeMillis = timeMillis
    }

    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        (lhs.deviceID, lhs.name, lhs.timeMillis) < (rhs.deviceID, rhs.name, rhs.timeMillis)
    }

    public var description: String { "\(deviceID) \(name) @\(timeMillis) ms" }
}

/// Every batch of a run whose records may be in the database, and the sensor names that expand
/// a batch into records.
public struct Ledger: Sendable, Equatable {
    /// Sensor names in the order the writer cycles through them.
    public var sensorNames: [String]
    /// Batches, acknowledged or in doubt, in completion order.
    public var batches: [LedgerBatch]

    public init(sensorNames: [String] = SensorKind.standard.map(\.name), batches: [LedgerBatch] = []) {
        self.sensorNames = sensorNames
        self.batches = batches
    }

    /// The records of `batch`.
    public func records(of batch: LedgerBatch) -> [RecordKey] {
        (0..<batch.recordCount).map { j in
            RecordKey(
                deviceID: batch.deviceID,
                name: batch.deviceID + "/" + sensorNames[j % sensorNames.count],
                timeMillis: batch.baseTimeMillis + Int64(j / sensorNames.count)
            )
        }
    }

    /// Devices that appear in the ledger, sorted.
    public var deviceIDs: [String] { Set(batches.map(\.deviceID)).sorted() }

    /// Earliest and latest record time, Unix milliseconds; nil for an empty ledger.
    public var timeRange: ClosedRange<Int64>? {
        guard !batches.isEmpty else { return nil }
        var low = Int64.max
        var high = Int64.min
        for batch in batches where batch.recordCount > 0 {
            low = min(low, batch.baseTimeMillis)
            high = max(high, batch.baseTimeMillis + Int64((batch.recordCount - 1) / sensorNames.count))
        }
        return low <= high ? low...high : nil
    }

    /// Records acknowledged, counted per key (a key twice means two acknowledged copies).
    public func expectedCounts() -> (acknowledged: [RecordKey: Int], inDoubt: [RecordKey: Int]) {
        var acknowledged: [RecordKey: Int] = [:]
        var inDoubt: [RecordKey: Int] = [:]
        for batch in batches {
            for key in records(of: batch) {
                if batch.acknowledged {
                    acknowledged[key, default: 0] += 1
                } else {
                    inDoubt[key, default: 0] += 1
                }
            }
        }
        return (acknowledged, inDoubt)
    }
}
