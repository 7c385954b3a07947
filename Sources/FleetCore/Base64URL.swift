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
        if let decoded = text.utf8.withContiguousStorageIfAvailable({ decode($0) }) { return decoded }
        return Array(text.utf8).withUnsafeBufferPointer { decode($0) }
    }

    public static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let capacity = decodedCapacity(text.count) else { return nil }
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            guard let written = decode(text, into: buffer) else {
                valid = false
                return
            }
            initialized = written
        }
        return valid ? out : nil
    }

    /// The most bytes `count` characters decode to; nil for a length no unpadded encoding has.
    public static func decodedCapacity(_ count: Int) -> Int? {
        count % 4 == 1 ? nil : count * 3 / 4
    }

    /// Decodes into `output` (at least `decodedCapacity` bytes); the count written, nil when invalid.
    /// The token parser decodes header and claims into stack buffers with it.
    public static func decode(_ text: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>)
        -> Int?
    {
        guard let capacity = decodedCapacity(text.count), output.count >= capacity else { return nil }
        return decodeTable.withUnsafeBufferPointer { table -> Int? in
            // Four characters make three bytes; one OR of their table values finds any 0xFF (not in
            // the alphabet). About twice the speed of a bit accumulator per character.
            var read = 0
            var written = 0
            let whole = text.count & ~3
            while read < whole {
                let a = table[Int(text[read])]
                let b = table[Int(text[read + 1])]
                let c = table[Int(text[read + 2])]
                let d = table[Int(text[read + 3])]
                guard (a | b | c | d) & 0x80 == 0 else { return nil }
                let bits = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                output[written] = UInt8(truncatingIfNeeded: bits >> 16)
                output[written + 1] = UInt8(truncatingIfNeeded: bits >> 8)
                output[written + 2] = UInt8(truncatingIfNeeded: bits)
                read += 4
                written += 3
            }
            // Two or three characters left make one or two bytes. Their leftover bits must be zero
            // (RFC 4648 §3.5, canonical encoding): otherwise one token would have 4 or 16 spellings
            // with the same signature bytes, each a separate verified-token cache entry.
            var bits: UInt32 = 0
            let left = text.count - read
            for offset in 0..<left {
                let value = table[Int(text[read + offset])]
                guard value & 0x80 == 0 else { return nil }
                bits = bits << 6 | UInt32(value)
            }
            guard left == 0 || bits & (left == 2 ? 0xF : 0x3) == 0 else { return nil }
            if left >= 2 {
                bits <<= UInt32(6 * (4 - left))
                output[written] = UInt8(truncatingIfNeeded: bits >> 16)
                written += 1
                if left == 3 {
                    output[written] = UInt8(truncatingIfNeeded: bits >> 8)
                    written += 1
                }
            }
            return written
        }
    }

    /// 6-bit value of each byte in the base64url alphabet (RFC 4648 Table 2), 0xFF elsewhere.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    public static func decode(_ text: String) -> [UInt8]? { decode(Substring(text)) }
}
