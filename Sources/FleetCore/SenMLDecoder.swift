import Foundation

/// Decodes a SenML JSON pack (RFC 8428 §5) into raw records. Strict: unknown fields ending in `_`
/// are must-understand extensions (§4.4) and rejected; wrong JSON types are rejected; the record
/// index is named in every error. Uses the hand-written `SenMLParser` (see its note on why).
public struct SenMLDecoder: Sendable {
    public init() {}

    public func decode(_ bytes: some Collection<UInt8>) throws(FleetError) -> [SenMLRecord] {
        try SenMLParser().parse(bytes)
    }
}

/// The same decoding with Foundation's `JSONDecoder`: the reference the hand-written parser is
/// tested and fuzzed against, and the baseline of the decode benchmark.
public struct SenMLReferenceDecoder: Sendable {
    public init() {}

    public func decode(_ bytes: some Collection<UInt8>) throws(FleetError) -> [SenMLRecord] {
        // RFC 8259 §8.1: UTF-8 without a byte order mark. JSONDecoder would also take UTF-16 or
        // UTF-32 and skip a BOM; as UTF-8 JSON never holds a NUL byte, this refuses both (found by
        // `make fuzz`, differential with SenMLParser).
        guard !bytes.contains(0), !bytes.starts(with: [0xEF, 0xBB, 0xBF]) else {
            throw FleetError(.badPayload, "invalid JSON: SenML JSON is UTF-8 without a byte order mark")
        }
        let data = Data(bytes)
        let raw: [RawRecord]
        do {
            raw = try JSONDecoder().decode([RawRecord].self, from: data)
        } catch let error as DecodingError {
            throw FleetError(.badPayload, Self.describe(error))
        } catch {
            throw FleetError(.badPayload, "invalid JSON")
        }
        guard !raw.isEmpty else { throw FleetError(.badPayload, "empty SenML pack") }
        return raw.map(\.record)
    }

    private static func describe(_ error: DecodingError) -> String {
        func where_(_ path: [any CodingKey]) -> String {
            guard let first = path.first, let index = first.intValue else { return "" }
            let field = path.dropFirst().first.map { " field \"\($0.stringValue)\"" } ?? ""
            return "record \(index)\(field): "
        }
        switch error {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "invalid JSON: not a SenML pack (a JSON array of records)" }
            return where_(context.codingPath) + context.debugDescription
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            if context.codingPath.isEmpty { return "a SenML pack is a JSON array of records" }
            return where_(context.codingPath) + "wrong type"
        case .keyNotFound(let key, let context):
            return where_(context.codingPath) + "missing \(key.stringValue)"
        @unknown default:
            return "invalid SenML"
        }
    }
}

/// The JSON shape of one record; field names are RFC 8428 Table 1 and 2.
private struct RawRecord: Decodable {
    var record: SenMLRecord

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var record = SenMLRecord()
        for key in container.allKeys {
            switch key.stringValue {
            case "bn": record.baseName = try container.decode(String.self, forKey: key)
            case "bt": record.baseTime = try Self.number(container, key)
            case "bu": record.baseUnit = try container.decode(String.self, forKey: key)
            case "bv": record.baseValue = try Self.number(container, key)
            case "bs": record.baseSum = try Self.number(container, key)
            case "bver":
                let version = try container.decode(Int.self, forKey: key)
                guard version == 10 else {  // RFC 8428 §4.4, as in SenMLParser
                    throw DecodingError.dataCorrupted(
                        .init(codingPath: container.codingPath + [key], debugDescription: "unsupported bver \(version)")
                    )
                }
            case "n": record.name = try container.decode(String.self, forKey: key)
            case "u": record.unit = try container.decode(String.self, forKey: key)
            case "t": record.time = try Self.number(container, key)
            case "v": record.value = try Self.number(container, key)
            case "vs": record.stringValue = try container.decode(String.self, forKey: key)
            case "vb": record.boolValue = try container.decode(Bool.self, forKey: key)
            case "vd": record.dataValue = try container.decode(String.self, forKey: key)
            case "s": record.sum = try Self.number(container, key)
            case "ut": _ = try Self.number(container, key)  // update time: informative only (§4.5.3)
            case let other where other.hasSuffix("_"):
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: container.codingPath + [key],
                        debugDescription: "must-understand field \"\(other)\" is not supported"
                    )
                )
            default:
                break  // RFC 8428 §4.4: unknown fields without a trailing "_" are ignored.
            }
        }
        self.record = record
    }

    /// JSON numbers only: `true` or `"1"` are type errors, not coerced.
    private static func number(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> Double {
        try container.decode(Double.self, forKey: key)
    }
}
