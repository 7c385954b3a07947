import Foundation

/// A hand-written, single-pass parser for SenML JSON packs (RFC 8428 §5, JSON per RFC 8259).
///
/// Why not `JSONDecoder`: on this project's 2-core machine Foundation's decoder with a dynamic
/// key container costs about 3 µs per record, the largest share of the ingest hot path at batch
/// size 100; this parser costs a small fraction of it (see BENCHMARKS.md, "SenML decode").
/// It accepts exactly what `SenMLDecoder` (the Foundation reference) accepts for SenML packs;
/// `SenMLParserTests` compares the two and `make fuzz` runs it under libFuzzer.
public struct SenMLParser: Sendable {
    /// Unknown values may nest this deep; deeper input is refused rather than recursed into. 510 is
    /// where Foundation's JSONDecoder (the reference) stops: its limit of 512 counts the pack and
    /// the record too.
    static let maxDepth = 510

    public init() {}

    public func parse(_ bytes: some Collection<UInt8>) throws(FleetError) -> [SenMLRecord] {
        // A NUL after the input lets strtod stop at the end without reading past the buffer.
        var array = [UInt8]()
        array.reserveCapacity(bytes.count + 1)
        array.append(contentsOf: bytes)
        array.append(0)
        return try array.withUnsafeBufferPointer { buffer throws(FleetError) in
            var reader = Reader(bytes: UnsafeBufferPointer(rebasing: buffer[0..<buffer.count - 1]))
            return try reader.pack()
        }
    }
}

private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var record = -1
    var field = ""
    /// The SenML fields already read in the current record, one bit each.
    var seen: UInt16 = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func fail(_ what: String) -> FleetError {
        if record >= 0 {
            let name = field.isEmpty ? "" : " field \"\(field)\""
            return FleetError(.badPayload, "record \(record)\(name): \(what)")
        }
        return FleetError(.badPayload, "invalid JSON: \(what)")
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(FleetError) {
        guard peek() == byte else { throw fail(what) }
        index += 1
    }

    mutating func pack() throws(FleetError) -> [SenMLRecord] {
        guard peek() == UInt8(ascii: "[") else { throw fail("not a SenML pack (a JSON array of records)") }
        index += 1
        var records: [SenMLRecord] = []
        if peek() == UInt8(ascii: "]") {
            index += 1
        } else {
            while true {
                record = records.count
                field = ""
                records.append(try object())
                field = ""
                switch peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    record = -1
                    guard peek() == nil else { throw fail("content after the pack") }
                    return records
                default: throw fail("expected , or ] after a record")
                }
            }
        }
        record = -1
        guard peek() == nil else { throw fail("content after the pack") }
        throw FleetError(.badPayload, "empty SenML pack")
    }

    mutating func object() throws(FleetError) -> SenMLRecord {
        guard peek() == UInt8(ascii: "{") else { throw fail("a record is a JSON object") }
        index += 1
        var result = SenMLRecord()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return result
        }
        seen = 0
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw fail("expected a field name") }
            let key = try fieldName()
            field = key
            try expect(UInt8(ascii: ":"), "expected : after a field name")
            switch key {
            case "bn": if try first(1 << 0) { result.baseName = try stringValue() }
            case "bt": if try first(1 << 1) { result.baseTime = try numberValue() }
            case "bu": if try first(1 << 2) { result.baseUnit = try stringValue() }
            case "bv": if try first(1 << 3) { result.baseValue = try numberValue() }
            case "bs": if try first(1 << 4) { result.baseSum = try numberValue() }
            case "bver":
                if try first(1 << 5) {
                    // An Int as JSONDecoder reads one: integer text must fit in Int, any other
                    // form must be a Double that is exactly an Int.
                    _ = peek()
                    let start = index
                    let version = try numberValue()
                    let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    let isInteger = !text.contains {
                        $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E")
                    }
                    let fits =
                        isInteger ? Int(String(decoding: text, as: UTF8.self)) != nil : Int(exactly: version) != nil
                    // RFC 8428 §4.4: a reader refuses a version newer than it understands; older
                    // ones are drafts' formats, which it does not understand either.
                    guard fits, version == 10 else { throw fail("unsupported bver") }
                }
            case "n": if try first(1 << 6) { result.name = try stringValue() }
            case "u": if try first(1 << 7) { result.unit = try stringValue() }
            case "t": if try first(1 << 8) { result.time = try numberValue() }
            case "v": if try first(1 << 9) { result.value = try numberValue() }
            case "vs": if try first(1 << 10) { result.stringValue = try stringValue() }
            case "vb": if try first(1 << 11) { result.boolValue = try boolValue() }
            case "vd": if try first(1 << 12) { result.dataValue = try stringValue() }
            case "s": if try first(1 << 13) { result.sum = try numberValue() }
            case "ut": if try first(1 << 14) { _ = try numberValue() }
            default:
                if key.hasSuffix("_") { throw fail("must-understand field \"\(key)\" is not supported") }
                try skipValue(depth: 0)  // RFC 8428 §4.4: other unknown fields are ignored
            }
            field = ""
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return result
            default: throw fail("expected , or } in a record")
            }
        }
    }

    /// A repeated SenML field keeps its first value and the repeat is only checked as JSON, as
    /// Foundation's JSONDecoder (the reference) does; found by `make fuzz`. True the first time.
    mutating func first(_ bit: UInt16) throws(FleetError) -> Bool {
        guard seen & bit == 0 else {
            try skipValue(depth: 0)
            return false
        }
        seen |= bit
        return true
    }

    /// Field names: the SenML labels are returned as static strings without allocating.
    mutating func fieldName() throws(FleetError) -> String {
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20
        {
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\""), end - start <= 4 {
            var packed: UInt32 = 0
            for i in start..<end { packed = packed << 8 | UInt32(bytes[i]) }
            let known: String? =
                switch (end - start, packed) {
                case (1, 0x6E): "n"
                case (1, 0x75): "u"
                case (1, 0x74): "t"
                case (1, 0x76): "v"
                case (1, 0x73): "s"
                case (2, 0x626E): "bn"
                case (2, 0x6274): "bt"
                case (2, 0x6275): "bu"
                case (2, 0x6276): "bv"
                case (2, 0x6273): "bs"
                case (2, 0x7673): "vs"
                case (2, 0x7662): "vb"
                case (2, 0x7664): "vd"
                case (2, 0x7574): "ut"
                default: nil
                }
            if let known {
                index = end + 1
                return known
            }
        }
        return try string()
    }

    mutating func stringValue() throws(FleetError) -> String {
        guard peek() == UInt8(ascii: "\"") else { throw fail("wrong type, expected a string") }
        return try string()
    }

    mutating func boolValue() throws(FleetError) -> Bool {
        if literal("true") { return true }
        if literal("false") { return false }
        throw fail("wrong type, expected true or false")
    }

    mutating func literal(_ word: StaticString) -> Bool {
        _ = peek()
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let text = word.utf8Start
        for offset in 0..<count where bytes[index + offset] != text[offset] { return false }
        index += count
        return true
    }

    /// A JSON number (RFC 8259 §6), strictly: no leading zeros, no `+`, no bare `.`; must be finite.
    /// `ignored` numbers (unknown or repeated fields) may underflow to zero, as JSONDecoder never
    /// converts them.
    mutating func numberValue(ignored: Bool = false) throws(FleetError) -> Double {
        guard let first = peek(), first == UInt8(ascii: "-") || isDigit(first) else {
            throw fail("wrong type, expected a number")
        }
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        // The grammar was checked above, so strtod reads exactly these bytes (the input ends in NUL).
        let value = bytes.baseAddress!.advanced(by: start).withMemoryRebound(to: CChar.self, capacity: index - start) {
            strtod($0, nil)
        }
        guard value.isFinite else { throw fail("numbers must be finite") }
        // Like JSONDecoder, refuse a number that is not zero but underflows to zero.
        if value == 0 && !ignored {
            for byte in UnsafeBufferPointer(rebasing: bytes[start..<index]) {
                if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { break }
                if byte >= UInt8(ascii: "1") && byte <= UInt8(ascii: "9") { throw fail("number out of range") }
            }
        }
        return value
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// A JSON string at `index` (which holds the opening quote); valid UTF-8 only.
    mutating func string() throws(FleetError) -> String {
        switch JSONStringLexer.read(bytes, &index) {
        case .success(let text): return text
        case .failure(let problem): throw fail(problem.rawValue)
        }
    }

    /// Skips any JSON value (for ignored fields), refusing nesting beyond `SenMLParser.maxDepth`.
    mutating func skipValue(depth: Int) throws(FleetError) {
        guard let byte = peek() else { throw fail("missing value") }
        switch byte {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"):
            guard depth < SenMLParser.maxDepth else { throw fail("nested too deeply") }
            index += 1
            if peek() == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                guard peek() == UInt8(ascii: "\"") else { throw fail("expected a field name") }
                _ = try string()
                try expect(UInt8(ascii: ":"), "expected :")
                try skipValue(depth: depth + 1)
                switch peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return
                default: throw fail("expected , or }")
                }
            }
        case UInt8(ascii: "["):
            guard depth < SenMLParser.maxDepth else { throw fail("nested too deeply") }
            index += 1
            if peek() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1)
                switch peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return
                default: throw fail("expected , or ]")
                }
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try boolValue()
        case UInt8(ascii: "n"):
            guard literal("null") else { throw fail("invalid literal") }
        default:
            _ = try numberValue(ignored: true)
        }
    }
}
