import NIOCore

/// Compresses a small body into one fixed-Huffman deflate block (RFC 1951 §3.2.6) wrapped as a
/// zlib (RFC 1950) or gzip (RFC 1952) stream, without zlib.
///
/// For a batch-1 SenML pack (~80 bytes) zlib spent most of its time building and sending
/// Huffman trees for one block (~10 % of the simulator's CPU at 25 000 posts a second); the
/// fixed code needs no tree, and a greedy LZ77 pass over a hash table that is never cleared
/// (entries carry the stream offset they were made at) finds the repeats such a pack has.
/// Bigger bodies, where dynamic trees pay for themselves, stay with zlib (`maxInputBytes`).
final class SmallBodyDeflater {
    enum Wrapper {
        /// RFC 1950: what HTTP calls `deflate` (RFC 9110 §8.4.1.2).
        case zlib
        /// RFC 1952.
        case gzip
    }

    /// Above this, zlib's dynamic trees make a smaller body than the fixed code.
    static let maxInputBytes = 1024

    let wrapper: Wrapper
    private static let hashBits = 10
    /// 2^hashBits entries: the offset + 1 (in `streamOffset` terms) of the newest 3-byte
    /// sequence with that hash, 0 for none. Allocated once; the deflater is one generator's.
    private let head: UnsafeMutableBufferPointer<UInt32>
    /// For each input position, the previous position whose 3 bytes hashed alike (`-1` none).
    private let previous: UnsafeMutableBufferPointer<Int32>
    /// Where the next input starts, in bytes compressed so far; older entries are stale.
    /// (Tests set it near the wrap-around.)
    var streamOffset: UInt32 = 0

    /// The longest input `compress` takes.
    let capacity: Int

    /// `capacity` bytes of input at most (up to the 32 KiB window of RFC 1951 §3.2.5).
    init(wrapper: Wrapper, capacity: Int = SmallBodyDeflater.maxInputBytes) {
        precondition((0...32_768).contains(capacity))
        self.wrapper = wrapper
        self.capacity = capacity
        self.head = .allocate(capacity: 1 << Self.hashBits)
        head.initialize(repeating: 0)
        self.previous = .allocate(capacity: max(1, capacity))
        previous.initialize(repeating: -1)
    }

    deinit {
        head.deallocate()
        previous.deallocate()
    }

    /// An upper bound on the compressed size of `count` input bytes (9 bits a literal at most).
    static func maxOutputBytes(inputBytes count: Int, wrapper: Wrapper) -> Int {
        let framing = wrapper == .zlib ? 2 + 4 : 10 + 8
        return framing + 2 + (count * 9 + 7) / 8 + 8
    }

    /// Compresses the readable bytes of `input` (at most `capacity`) onto `output`.
    func compress(_ input: ByteBuffer, into output: inout ByteBuffer) {
        precondition(input.readableBytes <= capacity)
        let count = input.readableBytes
        if streamOffset > UInt32.max - UInt32(2 * capacity + 2) {
            head.update(repeating: 0)
            streamOffset = 0
        }
        let base = streamOffset
        streamOffset += UInt32(count) + 1
        let bound = Self.maxOutputBytes(inputBytes: count, wrapper: wrapper)
        let (wrapper, head, previous) = (self.wrapper, self.head, self.previous)
        input.withUnsafeReadableBytes { source in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { target in
                var bits = BitWriter(target)
                switch wrapper {
                case .zlib:
                    // CMF 0x78: deflate, 32 KiB window; FLG 0x01: fastest level, no dictionary,
                    // and (0x78 << 8 | 0x01) % 31 == 0 (RFC 1950 §2.2).
                    bits.writeByte(0x78)
                    bits.writeByte(0x01)
                case .gzip:
                    // Magic, CM 8 (deflate), no flags, MTIME 0, XFL 0, OS 3 (Unix).
                    bits.writeBigEndian(0x1F8B_0800)
                    bits.writeBigEndian(0)
                    bits.writeByte(0)
                    bits.writeByte(3)
                }
                // BFINAL 1, BTYPE 01 (fixed Huffman).
                bits.write(0b011, count: 3)
                Self.encode(source, base: base, head: head, previous: previous, into: &bits)
                // End of block: symbol 256, seven zero bits.
                bits.write(0, count: 7)
                bits.alignToByte()
                switch wrapper {
                case .zlib:
                    bits.writeBigEndian(Adler32.checksum(source))
                case .gzip:
                    bits.writeLittleEndian(CRC32.checksum(source))
                    bits.writeLittleEndian(UInt32(truncatingIfNeeded: count))
                }
                return bits.bytesWritten
            }
        }
    }

    /// Greedy LZ77 over hash chains (at most 8 candidates a position, matches of 3 to 258 bytes),
    /// each literal or (length, distance) pair written in the fixed code.
    private static func encode(
        _ source: UnsafeRawBufferPointer, base: UInt32, head: UnsafeMutableBufferPointer<UInt32>,
        previous: UnsafeMutableBufferPointer<Int32>, into bits: inout BitWriter
    ) {
        let count = source.count
        var position = 0
        func insert(_ at: Int) {
            let hash = Self.hash(source, at)
            let entry = head[hash]
            previous[at] = entry > base ? Int32(entry - base - 1) : -1
            head[hash] = base + UInt32(at) + 1
        }
        while position < count {
            var bestLength = 0
            var bestDistance = 0
            if position + 3 <= count {
                let hash = Self.hash(source, position)
                let entry = head[hash]
                var candidate = entry > base ? Int(entry - base - 1) : -1
                var chain = 8
                let limit = min(258, count - position)
                while candidate >= 0, chain > 0 {
                    var length = 0
                    while length < limit, source[candidate + length] == source[position + length] { length += 1 }
                    if length > bestLength {
                        bestLength = length
                        bestDistance = position - candidate
                        if length == limit { break }
                    }
                    candidate = Int(previous[candidate])
                    chain -= 1
                }
                insert(position)
            }
            if bestLength >= 3 {
                writeLength(bestLength, into: &bits)
                writeDistance(bestDistance, into: &bits)
                for at in (position + 1)..<(position + bestLength) where at + 3 <= count { insert(at) }
                position += bestLength
            } else {
                writeLiteral(source[position], into: &bits)
                position += 1
            }
        }
    }

    private static func hash(_ source: UnsafeRawBufferPointer, _ at: Int) -> Int {
        let word = UInt32(source[at]) | UInt32(source[at + 1]) << 8 | UInt32(source[at + 2]) << 16
        return Int((word &* 2_654_435_761) >> (32 - UInt32(hashBits)))
    }

    /// Literal/length codes 0…287 of §3.2.6, bit-reversed for the LSB-first stream, and their lengths.
    private static let literalCodes: [(code: UInt32, length: UInt32)] = (0..<288).map { symbol in
        let (code, length): (Int, Int)
        switch symbol {
        case 0..<144: (code, length) = (0x30 + symbol, 8)
        case 144..<256: (code, length) = (0x190 + symbol - 144, 9)
        case 256..<280: (code, length) = (symbol - 256, 7)
        default: (code, length) = (0xC0 + symbol - 280, 8)
        }
        return (reversed(UInt32(code), length: length), UInt32(length))
    }

    private static func reversed(_ code: UInt32, length: Int) -> UInt32 {
        var result: UInt32 = 0
        for bit in 0..<length where code & (1 << bit) != 0 { result |= 1 << UInt32(length - 1 - bit) }
        return result
    }

    private static func writeLiteral(_ byte: UInt8, into bits: inout BitWriter) {
        let entry = literalCodes[Int(byte)]
        bits.write(UInt64(entry.code), count: entry.length)
    }

    /// Length codes 257…285 (§3.2.5): 3…10 have no extra bits, then four codes per extra bit.
    private static func writeLength(_ length: Int, into bits: inout BitWriter) {
        let value = length - 3
        let symbol: Int
        var extraBits = 0
        if length == 258 {
            symbol = 285
        } else if value < 8 {
            symbol = 257 + value
        } else {
            let top = Int.bitWidth - 1 - value.leadingZeroBitCount
            extraBits = top - 2
            symbol = 257 + 4 * (top - 1) + ((value >> extraBits) & 3)
        }
        let entry = literalCodes[symbol]
        bits.write(UInt64(entry.code), count: entry.length)
        if extraBits > 0 { bits.write(UInt64(value & ((1 << extraBits) - 1)), count: UInt32(extraBits)) }
    }

    /// Distance codes 0…29 (§3.2.5), five bits each in the fixed code, two codes per extra bit.
    private static func writeDistance(_ distance: Int, into bits: inout BitWriter) {
        let value = distance - 1
        let symbol: Int
        var extraBits = 0
        if value < 4 {
            symbol = value
        } else {
            let top = Int.bitWidth - 1 - value.leadingZeroBitCount
            extraBits = top - 1
            symbol = 2 * top + ((value >> extraBits) & 1)
        }
        bits.write(UInt64(reversed(UInt32(symbol), length: 5)), count: 5)
        if extraBits > 0 { bits.write(UInt64(value & ((1 << extraBits) - 1)), count: UInt32(extraBits)) }
    }
}

/// Writes bits least-significant first into a raw buffer (RFC 1951 §3.1.1).
private struct BitWriter {
    let target: UnsafeMutableRawBufferPointer
    private(set) var bytesWritten = 0
    private var pending: UInt64 = 0
    private var pendingCount: UInt32 = 0

    init(_ target: UnsafeMutableRawBufferPointer) {
        self.target = target
    }

    mutating func write(_ value: UInt64, count: UInt32) {
        pending |= value << pendingCount
        pendingCount += count
        while pendingCount >= 8 {
            target[bytesWritten] = UInt8(truncatingIfNeeded: pending)
            bytesWritten += 1
            pending >>= 8
            pendingCount -= 8
        }
    }

    mutating func writeByte(_ byte: UInt8) {
        write(UInt64(byte), count: 8)
    }

    mutating func alignToByte() {
        if pendingCount > 0 { write(0, count: 8 - pendingCount) }
    }

    mutating func writeBigEndian(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { writeByte(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    mutating func writeLittleEndian(_ value: UInt32) {
        for shift in stride(from: 0, through: 24, by: 8) { writeByte(UInt8(truncatingIfNeeded: value >> shift)) }
    }
}

/// RFC 1950 §8.2.
enum Adler32 {
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        var index = 0
        while index < bytes.count {
            // 5552 bytes is the most that cannot overflow 32 bits before the modulo (zlib's NMAX).
            let end = min(bytes.count, index + 5552)
            while index < end {
                a += UInt32(bytes[index])
                b += a
                index += 1
            }
            a %= 65_521
            b %= 65_521
        }
        return b << 16 | a
    }
}

/// The CRC-32 of RFC 1952 §8 (reflected polynomial 0xEDB88320), a byte at a time from a table.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { byte in
        var value = UInt32(byte)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes { crc = table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] ^ (crc >> 8) }
            return crc ^ 0xFFFF_FFFF
        }
    }
}
