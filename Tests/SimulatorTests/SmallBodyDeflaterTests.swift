import CompressNIO
import NIOCore
import Testing

@testable import Simulator

@Suite("Small-body deflater")
struct SmallBodyDeflaterTests {
    /// Compresses `bytes` and inflates the result with system zlib (through CompressNIO).
    private static func roundTrip(
        _ bytes: [UInt8], with deflater: SmallBodyDeflater, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let input = ByteBuffer(bytes: bytes)
        var body = ByteBuffer()
        deflater.compress(input, into: &body)
        #expect(
            body.readableBytes <= SmallBodyDeflater.maxOutputBytes(inputBytes: bytes.count, wrapper: deflater.wrapper),
            sourceLocation: sourceLocation)
        let inflated = try body.decompress(with: deflater.wrapper == .zlib ? .zlib() : .gzip())
        #expect(inflated == input, "\(bytes.count) bytes, \(deflater.wrapper)", sourceLocation: sourceLocation)
    }

    private static func pack(records: Int, seed: UInt64) -> ByteBuffer {
        var random = SplitMix64(seed: seed)
        var state = SensorState(using: &random)
        var pack = ByteBuffer()
        SenMLBatchWriter().write(
            deviceID: "sim-\(seed)", baseTimeMillis: 1_764_400_000_000 + Int64(seed), recordCount: records,
            state: &state, using: &random, into: &pack)
        return pack
    }

    static let wrappers: [SmallBodyDeflater.Wrapper] = [.zlib, .gzip]

    @Test("SenML packs of 1 to 12 records inflate back, one deflater reused for all", arguments: wrappers)
    func senMLPacks(wrapper: SmallBodyDeflater.Wrapper) throws {
        let deflater = SmallBodyDeflater(wrapper: wrapper)
        for seed in 0..<200 as Range<UInt64> {
            let pack = Self.pack(records: Int(seed % 12) + 1, seed: seed)
            guard pack.readableBytes <= deflater.capacity else { continue }
            try Self.roundTrip(Array(pack.readableBytesView), with: deflater)
        }
    }

    @Test("every length from 0 to 4096, random, repetitive and constant bytes, inflates back", arguments: wrappers)
    func everyLength(wrapper: SmallBodyDeflater.Wrapper) throws {
        let deflater = SmallBodyDeflater(wrapper: wrapper, capacity: 4096)
        var random = SplitMix64(seed: 42)
        for length in 0...4096 {
            let bytes: [UInt8]
            switch length % 3 {
            // All 256 values: literals of both code lengths, few matches.
            case 0: bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            // Four symbols: many short matches at every distance.
            case 1: bytes = (0..<length).map { _ in UInt8(ascii: "a") + UInt8(random.next() & 3) }
            // One byte: matches of 258, the longest, at distance 1.
            default: bytes = Array(repeating: 0xFF, count: length)
            }
            try Self.roundTrip(bytes, with: deflater)
        }
    }

    @Test("bytes repeated from far back use long distances and still inflate back")
    func longDistances() throws {
        let deflater = SmallBodyDeflater(wrapper: .zlib, capacity: 32_768)
        var random = SplitMix64(seed: 7)
        let block = (0..<5000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        try Self.roundTrip(block + block + block.prefix(3000), with: deflater)
    }

    @Test("entries from earlier bodies are never matched, also across the offset wrap-around")
    func staleEntries() throws {
        let deflater = SmallBodyDeflater(wrapper: .zlib)
        let body = Array("[{\"bn\":\"sim-1/\",\"n\":\"temperature\",\"u\":\"Cel\",\"v\":21.5}]".utf8)
        try Self.roundTrip(body, with: deflater)
        deflater.streamOffset = UInt32.max - 100
        try Self.roundTrip(body, with: deflater)
        try Self.roundTrip(body.reversed(), with: deflater)
        try Self.roundTrip(body, with: deflater)
    }

    @Test("a batch-1 pack comes out no larger than zlib's fastest level makes it")
    func smallerThanZlib() throws {
        let deflater = SmallBodyDeflater(wrapper: .zlib)
        let compressor = try ZlibCompressor(
            algorithm: .zlib, configuration: Simulation.zlibConfiguration(recordsPerBatch: 1))
        var ours = 0
        var zlib = 0
        for seed in 0..<50 as Range<UInt64> {
            var input = Self.pack(records: 1, seed: seed)
            var body = ByteBuffer()
            deflater.compress(input, into: &body)
            ours += body.readableBytes
            try compressor.reset()
            var reference = ByteBuffer()
            reference.reserveCapacity(compressor.maxSize(from: input))
            try compressor.deflate(from: &input, to: &reference, flush: .finish)
            zlib += reference.readableBytes
        }
        #expect(ours <= zlib)
    }

    @Test("Adler-32 and CRC-32 match their published check values")
    func checksums() {
        let check = Array("123456789".utf8)
        check.withUnsafeBytes { bytes in
            #expect(Adler32.checksum(bytes) == 0x091E_01DE)
            #expect(CRC32.checksum(bytes) == 0xCBF4_3926)
        }
        let empty: [UInt8] = []
        empty.withUnsafeBytes { bytes in
            #expect(Adler32.checksum(bytes) == 1)
            #expect(CRC32.checksum(bytes) == 0)
        }
        // Past zlib's NMAX (5552), where the sums must be reduced mid-way.
        let long = [UInt8](repeating: 0xFF, count: 100_000)
        long.withUnsafeBytes { bytes in
            var a = 1
            var b = 0
            for byte in long {
                a = (a + Int(byte)) % 65_521
                b = (b + a) % 65_521
            }
            #expect(Adler32.checksum(bytes) == UInt32(b << 16 | a))
        }
    }
}
