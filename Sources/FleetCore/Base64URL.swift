import Foundation

/// Unpadded base64url (RFC 4648 §5), strict as RFC 7515 §2 asks: no padding, no `+`, `/` or spaces.
public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Decodes strictly; nil for any character outside the URL-safe alphabet or an impossible length.
    /// Leftover bits of the last character are ignored, as Foundation's decoder does. Table-driven:
    /// it runs on every uncached token (three parts) and every JWKS key.
    public static func decode(_ text: Substring) -> [UInt8]? {
        // Native strings hand out their bytes contiguously: a plain loop over a buffer pointer, no
        // generic index walking.
        if let decoded = text.utf8.withContiguousStorageIfAvailable({ decode(bytes: $0) }) { return decoded }
        return decode(bytes: Array(text.utf8))
    }

    static func decode<Bytes: Collection<UInt8>>(bytes utf8: Bytes) -> [UInt8]? {
        guard utf8.count % 4 != 1 else { return nil }
        let capacity = utf8.count * 3 / 4
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            var accumulator: UInt32 = 0
            var bits = 0
            var written = 0
            decodeTable.withUnsafeBufferPointer { table in
                for byte in utf8 {
                    let value = table[Int(byte)]
                    guard value != 0xFF else {
                        valid = false
                        return
                    }
                    accumulator = accumulator << 6 | UInt32(value)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        buffer[written] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                        written += 1
                    }
                }
            }
            initialized = written
        }
        return valid ? out : nil
    }

    /// 6-bit value of each byte in the base64url alphabet (RFC 4648 Table 2), 0xFF elsewhere.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    public static func decode(_ text: String) -> [UInt8]? { decode(Substring(text)) }
}
