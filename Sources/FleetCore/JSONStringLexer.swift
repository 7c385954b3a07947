/// Reads one JSON string (RFC 8259 §7): escapes, surrogate pairs, valid UTF-8 only, no control
/// characters. Shared by the SenML parser and the JWT header/claims reader.
enum JSONStringLexer {
    /// Why a string was refused; the raw value is the detail the SenML parser reports.
    enum Problem: String, Error {
        case invalidUTF8 = "string is not valid UTF-8"
        case controlCharacter = "control character in a string"
        case unterminated = "unterminated string"
        case unpairedSurrogate = "unpaired surrogate in a string"
        case invalidUnicodeEscape = "invalid \\u escape"
        case invalidEscape = "invalid escape in a string"
    }

    /// Reads the string whose opening quote is at `index` and moves `index` past its closing quote.
    static func read(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int) -> Result<String, Problem> {
        index += 1
        let start = index
        // Fast path: no escapes. An ASCII string needs no validation, and `String(decoding:)` on a
        // buffer is specialised, while `String(validating:as:)` is generic in the standard library:
        // its metadata lookups were 60 % of a token's parse (perf). Only non-ASCII text pays for it.
        var highBits: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                if highBits & 0x80 == 0 { return .success(String(decoding: slice, as: UTF8.self)) }
                guard let text = String(validating: slice, as: UTF8.self) else {
                    return .failure(.invalidUTF8)
                }
                return .success(text)
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { return .failure(.controlCharacter) }
            highBits |= byte
            index += 1
        }
        var scalars = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: scalars, as: UTF8.self) else {
                    return .failure(.invalidUTF8)
                }
                return .success(text)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return .failure(.unterminated) }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append(0x22)
                case UInt8(ascii: "\\"): scalars.append(0x5C)
                case UInt8(ascii: "/"): scalars.append(0x2F)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    guard var code = hex4(bytes, &index) else { return .failure(.invalidUnicodeEscape) }
                    if (0xD800...0xDBFF).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { return .failure(.unpairedSurrogate) }
                        index += 2
                        guard let low = hex4(bytes, &index) else { return .failure(.invalidUnicodeEscape) }
                        guard (0xDC00...0xDFFF).contains(low) else { return .failure(.unpairedSurrogate) }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        return .failure(.unpairedSurrogate)
                    }
                    guard let scalar = Unicode.Scalar(code) else { return .failure(.invalidUnicodeEscape) }
                    scalars.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    return .failure(.invalidEscape)
                }
            default:
                guard byte >= 0x20 else { return .failure(.controlCharacter) }
                scalars.append(byte)
            }
        }
        return .failure(.unterminated)
    }

    static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int) -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return value
    }

}
