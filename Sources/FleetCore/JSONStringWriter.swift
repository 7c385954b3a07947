/// JSON string escaping (RFC 8259 §7) straight into UTF-8 bytes, for the documents written by
/// hand on hot paths (signed claims, problem+json) instead of through JSONEncoder.
public enum JSONStringWriter {
    /// Appends `text` as a quoted JSON string. Multi-byte UTF-8 sequences are copied as they are:
    /// all their bytes are 0x80 or above, so only ASCII needs escaping.
    public static func append(_ text: String, to out: inout [UInt8]) {
        out.append(quote)
        for byte in text.utf8 {
            switch byte {
            case quote, backslash: out.append(contentsOf: [backslash, byte])
            case 0x0A: out.append(contentsOf: [backslash, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [backslash, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [backslash, UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [
                    backslash, UInt8(ascii: "u"), zero, zero, hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: out.append(byte)
            }
        }
        out.append(quote)
    }

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")
    private static let zero = UInt8(ascii: "0")
    private static let hex = Array("0123456789abcdef".utf8)
}
