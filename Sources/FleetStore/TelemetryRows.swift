import FleetCore
import Foundation
import PostgresNIO

/// The rows of one writer transaction as column arrays, inserted with one
/// `INSERT … SELECT … FROM unnest(…)` statement.
///
/// Why not COPY: postgres-nio 1.33.2 stops the process (`preconditionFailure("Copy mode is only
/// supported for extended queries")`) when a COPY's connection is closed while data is being
/// written, which a PostgreSQL restart or a killed backend does; an ordinary statement fails with
/// an error instead, and the request is answered 503 with nothing stored.
struct TelemetryRows {
    private(set) var count = 0
    private var devices: [String] = []
    /// The row's batch Idempotency-Key, '' for none (a real key has 1–64 characters).
    private var keys: [String] = []
    /// Microseconds since the Unix epoch, rounded to nearest: exact where a Date would truncate.
    private var micros: [Int64] = []
    private var names: [String] = []
    private var hasUnit: [Bool] = []
    private var units: [String] = []
    /// 0 number, 1 string, 2 boolean, 3 data, -1 none (a sum-only record).
    private var kinds: [Int16] = []
    private var numbers: [Double] = []
    private var texts: [String] = []
    private var bools: [Bool] = []
    private var hasSum: [Bool] = []
    private var sums: [Double] = []

    init(capacity: Int) {
        devices.reserveCapacity(capacity)
        keys.reserveCapacity(capacity)
        micros.reserveCapacity(capacity)
        names.reserveCapacity(capacity)
        hasUnit.reserveCapacity(capacity)
        units.reserveCapacity(capacity)
        kinds.reserveCapacity(capacity)
        numbers.reserveCapacity(capacity)
        texts.reserveCapacity(capacity)
        bools.reserveCapacity(capacity)
        hasSum.reserveCapacity(capacity)
        sums.reserveCapacity(capacity)
    }

    mutating func append(device: String, key: String?, record: ResolvedRecord) {
        count += 1
        devices.append(device)
        keys.append(key ?? "")
        micros.append(Int64((record.time * 1_000_000).rounded()))
        names.append(record.name)
        hasUnit.append(record.unit != nil)
        units.append(record.unit ?? "")
        var kind: Int16 = -1
        var number = 0.0
        var text = ""
        var bool = false
        switch record.value {
        case .number(let v):
            kind = 0
            number = v
        case .string(let v):
            kind = 1
            text = v
        case .bool(let v):
            kind = 2
            bool = v
        case .data(let v):
            kind = 3
            text = v
        case nil:
            break
        }
        kinds.append(kind)
        numbers.append(number)
        texts.append(text)
        bools.append(bool)
        hasSum.append(record.sum != nil)
        sums.append(record.sum ?? 0)
    }

    /// The statement: claims `claiming` in `idempotency_keys` (ON CONFLICT DO NOTHING, so a key
    /// another transaction holds is not claimed) and inserts every unkeyed row and every row whose
    /// key it claimed; answers the claimed keys. The arrays travel as bound parameters in
    /// PostgreSQL's binary format.
    func insert(claiming: [PostgresTelemetryWriter.IdempotencyKey]) -> PostgresQuery {
        let claimDevices = claiming.map(\.device)
        let claimKeys = claiming.map(\.key)
        return """
            WITH claimed AS (
                INSERT INTO idempotency_keys (device_id, key)
                SELECT * FROM unnest(\(claimDevices)::text[], \(claimKeys)::text[])
                ON CONFLICT DO NOTHING RETURNING device_id, key
            ), stored AS (
                INSERT INTO telemetry (device_id, time, name, unit, value, string_value, bool_value, data_value, sum)
                SELECT d, timestamptz 'epoch' + t * interval '1 microsecond', n, CASE WHEN hu THEN u END,
                       CASE WHEN k = 0 THEN v END, CASE WHEN k = 1 THEN x END, CASE WHEN k = 2 THEN b END,
                       CASE WHEN k = 3 THEN x END, CASE WHEN hs THEN s END
                FROM unnest(\(devices)::text[], \(keys)::text[], \(micros)::int8[], \(names)::text[],
                            \(hasUnit)::bool[], \(units)::text[], \(kinds)::int2[], \(numbers)::float8[],
                            \(texts)::text[], \(bools)::bool[], \(hasSum)::bool[], \(sums)::float8[])
                     AS r(d, key, t, n, hu, u, k, v, x, b, hs, s)
                WHERE r.key = '' OR (r.d, r.key) IN (SELECT device_id, key FROM claimed)
            )
            SELECT device_id, key FROM claimed
            """
    }
}
