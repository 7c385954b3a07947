/// The fields of one CSV line as RFC 4180 §2 writes them: separated by commas; a field in double
/// quotes may hold commas, and `""` inside it is one quote. Unquoted fields lose surrounding spaces
/// and tabs (hand-written manifests align their columns); a quoted field keeps its text exactly.
/// A line break inside quotes is not supported: no field of a manifest may hold one.
enum CSVFields {
    /// nil when a quote is left open or text follows a closing quote.
    static func split(_ line: Substring.UTF8View) -> [String]? {
        var fields: [String] = []
        var field: [UInt8] = []
        var state = State.unquoted
        var index = line.startIndex
        while index != line.endIndex {
            let byte = line[index]
            line.formIndex(after: &index)
            switch state {
            case .unquoted:
                if byte == comma {
                    fields.append(trimmed(field))
                    field.removeAll(keepingCapacity: true)
                } else if byte == quote, field.allSatisfy(isBlank) {
                    field.removeAll(keepingCapacity: true)
                    state = .quoted
                } else {
                    field.append(byte)
                }
            case .quoted:
                if byte != quote {
                    field.append(byte)
                } else if index != line.endIndex, line[index] == quote {
                    field.append(quote)
                    line.formIndex(after: &index)
                } else {
                    state = .closed
                }
            case .closed:
                if byte == comma {
                    fields.append(String(decoding: field, as: UTF8.self))
                    field.removeAll(keepingCapacity: true)
                    state = .unquoted
                } else if !isBlank(byte) {
                    return nil
                }
            }
        }
        switch state {
        case .unquoted: fields.append(trimmed(field))
        case .quoted: return nil
        case .closed: fields.append(String(decoding: field, as: UTF8.self))
        }
        return fields
    }

    private enum State {
        case unquoted, quoted, closed
    }

    private static let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\"")

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    private static func trimmed(_ bytes: [UInt8]) -> String {
        guard let first = bytes.firstIndex(where: { !isBlank($0) }), let last = bytes.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
