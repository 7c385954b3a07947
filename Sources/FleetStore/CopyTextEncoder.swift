import FleetCore
import NIOCore

/// Writes telemetry rows in PostgreSQL's COPY text format (one line a row, tab-separated, `\N` for
/// NULL). The one place where COPY data is escaped.
public enum CopyTextEncoder {
    /// Column order of `rowColumns`, matching `append(...)`.
    public static let columns = [
        "device_id", "time", "name", "unit", "value", "string_value", "bool_value", "data_value", "sum",
    ]

    public static func append(deviceID: String, record: ResolvedRecord, to buffer: inout ByteBuffer) {
        appendEscaped(deviceID, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\t"))
        appendTimestamp(record.time, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\t"))
        appendEscaped(record.name, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\t"))
        appendOptional(record.unit, to: &buffer)
        var number: Double?
        var string: String?
        var bool: Bool?
        var data: String?
        switch record.value {
        case .number(let v): number = v
        case .string(let v): string = v
        case .bool(let v): bool = v
        case .data(let v): data = v
        case nil: break
        }
        buffer.writeInteger(UInt8(ascii: "\t"))
        appendDouble(number, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\t"))
        appendOptional(string, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\t"))
        if let bool {
            buffer.writeInteger(bool ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        } else {
            buffer.writeStaticString("\\N")
        }
        buffer.writeInteger(UInt8(ascii: "\t"))
        appendOptional(data, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\t"))
        appendDouble(record.sum, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// Escapes backslash, tab, newline and carriage return (PostgreSQL docs, COPY "Text Format").
    public static func appendEscaped(_ text: String, to buffer: inout ByteBuffer) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            case 0: buffer.writeStaticString("")  // NUL cannot be stored in text; dropped
            default: buffer.writeInteger(byte)
            }
        }
    }

    static func appendOptional(_ text: String?, to buffer: inout ByteBuffer) {
        if let text { appendEscaped(text, to: &buffer) } else { buffer.writeStaticString("\\N") }
    }

    static func appendDouble(_ value: Double?, to buffer: inout ByteBuffer) {
        // Swift prints the shortest text that reads back as the same Double; PostgreSQL parses it exactly.
        if let value { buffer.writeString(value.description) } else { buffer.writeStaticString("\\N") }
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, computed directly: a DateFormatter per row costs ~2 µs.
    public static func appendTimestamp(_ seconds: Double, to buffer: inout ByteBuffer) {
        var micros = Int64((seconds * 1_000_000).rounded())
        var days = micros / 86_400_000_000
        micros -= days * 86_400_000_000
        if micros < 0 {
            micros += 86_400_000_000
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        let secondOfDay = micros / 1_000_000
        let fraction = micros % 1_000_000
        pad(year, 4, &buffer)
        buffer.writeInteger(UInt8(ascii: "-"))
        pad(month, 2, &buffer)
        buffer.writeInteger(UInt8(ascii: "-"))
        pad(day, 2, &buffer)
        buffer.writeInteger(UInt8(ascii: " "))
        pad(secondOfDay / 3600, 2, &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
        pad(secondOfDay / 60 % 60, 2, &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
        pad(secondOfDay % 60, 2, &buffer)
        buffer.writeInteger(UInt8(ascii: "."))
        pad(fraction, 6, &buffer)
        buffer.writeStaticString("+00")
    }

    private static func pad(_ value: Int64, _ width: Int, _ buffer: inout ByteBuffer) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (48, 48, 48, 48, 48, 48)
        var v = value
        withUnsafeMutableBytes(of: &digits) { raw in
            var i = width - 1
            while i >= 0 {
                raw[i] = UInt8(48 + v % 10)
                v /= 10
                i -= 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<width]))
        }
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
