/// Limits applied while resolving a pack.
public struct SenMLLimits: Sendable, Equatable {
    /// Most records accepted in one pack (API.md: 10 000).
    public var maxRecords: Int
    /// How far in the past a record's time may be, in seconds (API.md: 7 days).
    public var maxPastSeconds: Double
    /// How far in the future a record's time may be, in seconds (API.md: 10 minutes).
    public var maxFutureSeconds: Double

    public init(maxRecords: Int = 10_000, maxPastSeconds: Double = 7 * 86_400, maxFutureSeconds: Double = 600) {
        self.maxRecords = maxRecords
        self.maxPastSeconds = maxPastSeconds
        self.maxFutureSeconds = maxFutureSeconds
    }
}

/// Applies base fields and validation (RFC 8428 §4.6) to a decoded pack.
public struct SenMLResolver: Sendable {
    public var limits: SenMLLimits

    /// Times below 2^28 are relative to now (RFC 8428 §4.5.3).
    static let relativeTimeThreshold: Double = 268_435_456
    static let maxNameLength = 128

    public init(limits: SenMLLimits = SenMLLimits()) {
        self.limits = limits
    }

    /// Resolves every record, or throws the first problem with its record index.
    public func resolve(_ records: [SenMLRecord], now: Double) throws(FleetError) -> [ResolvedRecord] {
        guard !records.isEmpty else { throw FleetError(.badPayload, "empty SenML pack") }
        guard records.count <= limits.maxRecords else {
            throw FleetError(.tooManyRecords, "\(records.count) records; at most \(limits.maxRecords) per post")
        }
        var baseName = ""
        var baseTime = 0.0
        var baseUnit: String?
        var baseValue = 0.0
        var baseSum = 0.0
        var resolved: [ResolvedRecord] = []
        resolved.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            if let bn = record.baseName { baseName = bn }
            if let bt = record.baseTime { baseTime = bt }
            if let bu = record.baseUnit { baseUnit = bu }
            if let bv = record.baseValue { baseValue = bv }
            if let bs = record.baseSum { baseSum = bs }
            // Both decoders refuse non-finite numbers; this guards records built in code.
            guard Self.finite(record.baseTime), Self.finite(record.baseValue), Self.finite(record.baseSum),
                Self.finite(record.time), Self.finite(record.value), Self.finite(record.sum)
            else {
                throw FleetError(.badPayload, "record \(index): numbers must be finite")
            }
            let name = baseName + (record.name ?? "")
            try Self.validate(name: name, index: index)

            var time = baseTime + (record.time ?? 0)
            if time < Self.relativeTimeThreshold { time += now }
            guard time.isFinite else { throw FleetError(.badPayload, "record \(index): time is not finite") }
            guard time >= now - limits.maxPastSeconds, time <= now + limits.maxFutureSeconds else {
                // Whole seconds, without trapping on a time beyond Int's range (found by `make fuzz`).
                let offset = Self.seconds((time - now).rounded())
                throw FleetError(
                    .badTimestamp,
                    "record \(index): time \(Self.seconds(time)) is \(offset) s from now; allowed is "
                        + "-\(Int(limits.maxPastSeconds)) s to +\(Int(limits.maxFutureSeconds)) s"
                )
            }

            var value: ResolvedRecord.Value?
            var valueCount = 0
            if let v = record.value {
                value = .number(baseValue + v)
                valueCount += 1
            } else if record.baseValue != nil, record.stringValue == nil, record.boolValue == nil,
                record.dataValue == nil, record.sum == nil
            {
                // A record with only `bv` carries the base value itself (RFC 8428 §4.6).
                value = .number(baseValue)
                valueCount += 1
            }
            if let vs = record.stringValue {
                value = .string(vs)
                valueCount += 1
            }
            if let vb = record.boolValue {
                value = .bool(vb)
                valueCount += 1
            }
            if let vd = record.dataValue {
                guard Self.isBase64URL(vd) else {
                    throw FleetError(.badPayload, "record \(index): vd must be base64url")
                }
                value = .data(vd)
                valueCount += 1
            }
            guard valueCount <= 1 else {
                throw FleetError(.badPayload, "record \(index): more than one of v, vs, vb, vd")
            }
            let sum = record.sum.map { baseSum + $0 }
            if let number = value, case .number(let v) = number, !v.isFinite {
                throw FleetError(.badPayload, "record \(index): value is not finite")
            }
            if let sum, !sum.isFinite { throw FleetError(.badPayload, "record \(index): sum is not finite") }
            guard value != nil || sum != nil else {
                throw FleetError(.badPayload, "record \(index): no value (v, vs, vb, vd) and no sum (s)")
            }
            let unit = record.unit ?? baseUnit
            // PostgreSQL text cannot hold U+0000; refusing beats storing something else than was sent.
            if unit?.utf8.contains(0) == true || record.stringValue?.utf8.contains(0) == true {
                throw FleetError(.badPayload, "record \(index): strings may not contain U+0000")
            }
            if let unit, unit.utf8.count > 64 {
                throw FleetError(.badPayload, "record \(index): unit longer than 64 bytes")
            }
            resolved.append(ResolvedRecord(name: name, unit: unit, time: time, value: value, sum: sum))
        }
        return resolved
    }

    /// `value` as whole seconds (toward zero), or as written when it does not fit in an Int.
    static func seconds(_ value: Double) -> String {
        guard let whole = Int(exactly: value.rounded(.towardZero)) else { return "\(value)" }
        return "\(whole)"
    }

    @inline(__always) static func finite(_ value: Double?) -> Bool { value?.isFinite ?? true }

    static func validate(name: String, index: Int) throws(FleetError) {
        let utf8 = name.utf8
        guard !utf8.isEmpty else { throw FleetError(.badPayload, "record \(index): empty name") }
        guard utf8.count <= maxNameLength else {
            throw FleetError(.badPayload, "record \(index): name longer than \(maxNameLength) characters")
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"),
                UInt8(ascii: "/"), UInt8(ascii: "-"):
                continue
            default:
                throw FleetError(.badPayload, "record \(index): name may only use A-Z a-z 0-9 _ . : / -")
            }
        }
    }

    static func isBase64URL(_ text: String) -> Bool {
        text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                return true
            default: return false
            }
        }
    }
}
