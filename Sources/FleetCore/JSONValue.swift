import Foundation

/// A JSON value (RFC 8259), for the small, flat documents of a JWT header and claims set.
public enum JSONValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])
}

/// A strict, allocation-light JSON reader for JWT headers and claims, read member by member.
///
/// Why not `JSONDecoder`: two decoder passes cost about 18 µs per token here, more than the RS256
/// check itself, and the contract sets uncached verification against OpenSSL's verify rate
/// (BENCHMARKS.md). Strict RFC 8259: no trailing commas, no leading zeros, valid UTF-8, nesting
/// at most `maxDepth`; a repeated key keeps its first value (as `JSONDecoder` does) inside nested
/// objects, and `forEachMember` callers keep the first themselves.
public enum JSONObjectReader {
    static let maxDepth = 32

    /// Calls `body` with each member of a JSON object text, in order, without building a dictionary
    /// (the token path reads ten-odd fields per token). Returns false when the text is not valid
    /// JSON or not an object; members seen before the error have been passed already.
    public static func forEachMember(_ bytes: [UInt8], _ body: (String, JSONValue) -> Void) -> Bool {
        bytes.withUnsafeBufferPointer { forEachMember($0, body) }
    }

    /// The same over a buffer (the token parser decodes into stack memory).
    public static func forEachMember(_ buffer: UnsafeBufferPointer<UInt8>, _ body: (String, JSONValue) -> Void) -> Bool
    {
        var scanner = Scanner(bytes: buffer)
        guard scanner.peek() == UInt8(ascii: "{") else { return false }
        scanner.index += 1
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
            return scanner.atEnd()
        }
        while true {
            guard scanner.peek() == UInt8(ascii: "\""), let key = scanner.string(),
                scanner.peek() == UInt8(ascii: ":")
            else { return false }
            scanner.index += 1
            guard let item = scanner.value(depth: 1) else { return false }
            body(key, item)
            switch scanner.peek() {
            case UInt8(ascii: ","): scanner.index += 1
            case UInt8(ascii: "}"):
                scanner.index += 1
                return scanner.atEnd()
            default: return false
            }
        }
    }

    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        mutating func peek() -> UInt8? {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return bytes[index]
                }
            }
            return nil
        }

        mutating func atEnd() -> Bool { peek() == nil }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth <= JSONObjectReader.maxDepth, let byte = peek() else { return nil }
            switch byte {
            case UInt8(ascii: "{"):
                index += 1
                var object: [String: JSONValue] = [:]
                if peek() == UInt8(ascii: "}") {
                    index += 1
                    return .object(object)
                }
                while true {
                    guard peek() == UInt8(ascii: "\""), let key = string(), peek() == UInt8(ascii: ":") else {
                        return nil
                    }
                    index += 1
                    guard let item = value(depth: depth + 1) else { return nil }
                    if object[key] == nil { object[key] = item }
                    switch peek() {
                    case UInt8(ascii: ","): index += 1
                    case UInt8(ascii: "}"):
                        index += 1
                        return .object(object)
                    default: return nil
                    }
                }
            case UInt8(ascii: "["):
                index += 1
                var array: [JSONValue] = []
                if peek() == UInt8(ascii: "]") {
                    index += 1
                    return .array(array)
                }
                while true {
                    guard let item = value(depth: depth + 1) else { return nil }
                    array.append(item)
                    switch peek() {
                    case UInt8(ascii: ","): index += 1
                    case UInt8(ascii: "]"):
                        index += 1
                        return .array(array)
                    default: return nil
                    }
                }
            case UInt8(ascii: "\""):
                return string().map(JSONValue.string)
            case UInt8(ascii: "t"):
                return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"):
                return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"):
                return literal("null") ? .null : nil
            default:
                return number().map(JSONValue.number)
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        /// RFC 8259 §6 number; nil when malformed or not finite as a Double.
        mutating func number() -> Double? {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { return nil }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { return nil }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard index < bytes.count, isDigit(bytes[index]) else { return nil }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            // The span was checked against the grammar and is followed by a delimiter (a number is
            // never last in an object text), so strtod reads exactly it, with no String to allocate.
            guard index < bytes.count else { return nil }
            let value = bytes.baseAddress!.advanced(by: start).withMemoryRebound(
                to: CChar.self, capacity: index - start + 1
            ) {
                strtod($0, nil)
            }
            guard value.isFinite else { return nil }
            return value
        }

        /// A string at `index` (the opening quote); nil when malformed or not valid UTF-8.
        mutating func string() -> String? {
            try? JSONStringLexer.read(bytes, &index).get()
        }
    }
}
