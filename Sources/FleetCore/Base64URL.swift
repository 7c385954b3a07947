import Foundation

/// Unpadded base64url (RFC 4648 §5), strict as RFC 7515 §2 asks: no padding, no `+`, `/` or spaces.
public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        append(bytes, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends the encoding of `bytes` to `text`: every signed token is three of these.
    public static func append(_ bytes: some Sequence<UInt8>, to text: inout [UInt8]) {
        // One loop over a buffer, not a generic walk: Array, Data and String.UTF8View all hand one out.
        if bytes.withContiguousStorageIfAvailable({ append(buffer: $0, to: &text) }) == nil {
            Array(bytes).withUnsafeBufferPointer { append(buffer: $0, to: &text) }
        }
    }

    private static func append(buffer bytes: UnsafeBufferPointer<UInt8>, to text: inout [UInt8]) {
        text.reserveCapacity(text.count + (bytes.count * 4 + 2) / 3)
        alphabet.withUnsafeBufferPointer { alphabet in
            var accumulator: UInt32 = 0
            var bits = 0
            for byte in bytes {
                accumulator = accumulator << 8 | UInt32(byte)
                bits += 8
                while bits >= 6 {
                    bits -= 6
                    text.append(alphabet[Int(accumulator >> UInt32(bits) & 0x3F)])
                }
            }
            if bits > 0 { text.append(alphabet[Int(accumulator << UInt32(6 - bits) & 0x3F)]) }
        }
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

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
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    public static func decode(_ text: String) -> [UInt8]? { decode(Substring(text)) }
}
