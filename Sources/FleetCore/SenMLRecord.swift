/// One SenML record as it arrives (RFC 8428 §4), before base fields are applied.
public struct SenMLRecord: Sendable, Equatable {
    public var baseName: String?
    public var baseTime: Double?
    public var baseUnit: String?
    public var baseValue: Double?
    public var baseSum: Double?
    public var name: String?
    public var unit: String?
    public var time: Double?
    public var value: Double?
    public var stringValue: String?
    public var boolValue: Bool?
    public var dataValue: String?
    public var sum: Double?

    public init(
        baseName: String? = nil, baseTime: Double? = nil, baseUnit: String? = nil, baseValue: Double? = nil,
        baseSum: Double? = nil, name: String? = nil, unit: String? = nil, time: Double? = nil,
        value: Double? = nil, stringValue: String? = nil, boolValue: Bool? = nil, dataValue: String? = nil,
        sum: Double? = nil
    ) {
        self.baseName = baseName
        self.baseTime = baseTime
        self.baseUnit = baseUnit
        self.baseValue = baseValue
        self.baseSum = baseSum
        self.name = name
        self.unit = unit
        self.time = time
        self.value = value
        self.stringValue = stringValue
        self.boolValue = boolValue
        self.dataValue = dataValue
        self.sum = sum
    }
}

/// A record after resolution (RFC 8428 §4.6): full name, absolute time, one value and/or a sum.
public struct ResolvedRecord: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case number(Double)
        case string(String)
        case bool(Bool)
        case data(String)
    }

    public var name: String
    public var unit: String?
    /// Seconds since the Unix epoch.
    public var time: Double
    public var value: Value?
    public var sum: Double?

    public init(name: String, unit: String?, time: Double, value: Value?, sum: Double?) {
        self.name = name
        self.unit = unit
        self.time = time
        self.value = value
        self.sum = sum
    }
}
