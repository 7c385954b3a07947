import FleetCore
import FleetHTTP
import Foundation
import NIOCore
import Testing

/// The request-body inflater (zlib and gzip over system zlib, with an output limit) and its
/// contract errors; the fuzz target Fuzz/fuzz-inflate.swift runs the same loop under libFuzzer.
@Suite("Inflater: zlib and gzip with a hard output limit")
struct InflaterTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func file(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: repository.appendingPathComponent(path)))
    }

    static func inflate(_ bytes: [UInt8], _ format: Inflater.Format, limit: Int = 1 << 20) throws(FleetError) -> [UInt8]
    {
        let output = try Inflater(limit: limit).inflate(ByteBuffer(bytes: bytes), format: format)
        return Array(output.readableBytesView)
    }

    static func error(_ bytes: [UInt8], _ format: Inflater.Format, limit: Int = 1 << 20) -> FleetError? {
        do {
            _ = try inflate(bytes, format, limit: limit)
            return nil
        } catch {
            return error
        }
    }

    // MARK: A stored-block (uncompressed) deflate writer, so tests can wrap any bytes.

    static func stored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        repeat {
            let count = min(65_535, data.count - offset)
            let final: UInt8 = offset + count == data.count ? 1 : 0
            out.append(final)
            out += [UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            out += data[offset..<offset + count]
            offset += count
        } while offset < data.count
        return out
    }

    static func zlib(_ data: [UInt8]) -> [UInt8] {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        let adler = b << 16 | a
        return [0x78, 0x01] + stored(data) + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: adler >> $0) }
    }

    static func gzip(_ data: [UInt8]) -> [UInt8] {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc = ~crc
        let size = UInt32(truncatingIfNeeded: data.count)
        return [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF] + stored(data)
            + [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: crc >> $0) }
            + [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: size >> $0) }
    }

    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    // MARK: Tests

    @Test("round trip, zlib and gzip", arguments: [0, 1, 100, 65_535, 65_536, 200_000])
    func roundTrip(size: Int) throws {
        let data = Self.random(size, seed: UInt64(size))
        #expect(try Self.inflate(Self.zlib(data), .zlib) == data)
        #expect(try Self.inflate(Self.gzip(data), .gzip) == data)
    }

    @Test("compressed fixtures made with python3's zlib and gzip inflate to the pack")
    func fixtures() throws {
        let pack = try Self.file("Fuzz/corpus/senml/api-example.json")
        #expect(try Self.inflate(try Self.file("Fuzz/corpus/inflate/pack.zlib"), .zlib) == pack)
        #expect(try Self.inflate(try Self.file("Fuzz/corpus/inflate/pack.gz"), .gzip) == pack)
        #expect(try Self.inflate(try Self.file("Fuzz/corpus/inflate/stored.zlib"), .zlib) == pack)
        #expect(try Self.inflate(try Self.file("Fuzz/corpus/inflate/empty.zlib"), .zlib) == [])
    }

    @Test("ZlibInflate's array form gives what Inflater gives")
    func arrayForm() throws {
        let stream = try Self.file("Fuzz/corpus/inflate/pack.zlib")
        let array = try stream.withUnsafeBytes { bytes throws(FleetError) in
            try ZlibInflate.inflate(bytes, format: .zlib, limit: 1 << 20)
        }
        #expect(array == (try Self.inflate(stream, .zlib)))
    }

    @Test("every truncation is bad_payload \"truncated\"")
    func truncated() throws {
        let data = Array("[{\"n\":\"temp\",\"v\":21.5}]".utf8)
        for (format, stream) in [(Inflater.Format.zlib, Self.zlib(data)), (.gzip, Self.gzip(data))] {
            let name = format == .zlib ? "deflate (zlib)" : "gzip"
            for cut in 0..<stream.count {
                let error = Self.error(Array(stream[..<cut]), format)
                #expect(error == FleetError(.badPayload, "\(name) stream is truncated"), "cut at \(cut)")
            }
        }
        #expect(
            Self.error(try Self.file("Fuzz/corpus/inflate/truncated.gz"), .gzip)
                == FleetError(.badPayload, "gzip stream is truncated")
        )
    }

    @Test("corrupt streams are bad_payload")
    func corrupt() throws {
        let data = Array("[{\"n\":\"temp\",\"v\":21.5}]".utf8)
        var badHeader = Self.zlib(data)
        badHeader[0] = 0x00
        var badChecksum = Self.zlib(data)
        badChecksum[badChecksum.count - 1] ^= 0xFF
        var badCRC = Self.gzip(data)
        badCRC[badCRC.count - 8] ^= 0xFF
        var badLength = Self.zlib(data)
        badLength[4] ^= 0x01  // NLEN no longer the complement of LEN
        #expect(Self.error(badHeader, .zlib) == FleetError(.badPayload, "corrupt deflate (zlib) stream"))
        #expect(Self.error(badChecksum, .zlib) == FleetError(.badPayload, "corrupt deflate (zlib) stream"))
        #expect(Self.error(badLength, .zlib) == FleetError(.badPayload, "corrupt deflate (zlib) stream"))
        #expect(Self.error(badCRC, .gzip) == FleetError(.badPayload, "corrupt gzip stream"))
        // Each format refuses the other's wrapper.
        #expect(Self.error(Self.gzip(data), .zlib)?.code == .badPayload)
        #expect(Self.error(Self.zlib(data), .gzip)?.code == .badPayload)
        #expect(Self.error(data, .zlib)?.code == .badPayload)
    }

    @Test("bytes after the end of the stream are bad_payload")
    func trailingGarbage() throws {
        let data = Array("[{\"n\":\"temp\",\"v\":21.5}]".utf8)
        #expect(Self.error(Self.zlib(data) + [0], .zlib) == FleetError(.badPayload, "corrupt deflate (zlib) stream"))
        #expect(Self.error(Self.gzip(data) + [1, 2], .gzip) == FleetError(.badPayload, "corrupt gzip stream"))
        #expect(Self.error(try Self.file("Fuzz/corpus/inflate/trailing.zlib"), .zlib)?.code == .badPayload)
    }

    @Test("a bomb stops at the limit with inflated_too_large")
    func bomb() throws {
        let bomb = try Self.file("Fuzz/corpus/inflate/bomb.zlib")  // 2 KiB → 2 MiB of zeros
        #expect(
            Self.error(bomb, .zlib, limit: 1 << 20)
                == FleetError(.inflatedTooLarge, "inflated body exceeds 1048576 bytes; decompression stopped there")
        )
        #expect(Self.error(bomb, .zlib, limit: 1000)?.code == .inflatedTooLarge)
        #expect(try Self.inflate(bomb, .zlib, limit: 2 << 20).count == 2 << 20)
    }

    @Test("output of exactly the limit is accepted; one byte more is not", arguments: [1, 4096, 4097, 100_000])
    func exactlyAtLimit(size: Int) throws {
        let data = Self.random(size, seed: 7)
        #expect(try Self.inflate(Self.zlib(data), .zlib, limit: size) == data)
        #expect(try Self.inflate(Self.gzip(data), .gzip, limit: size) == data)
        #expect(Self.error(Self.zlib(data), .zlib, limit: size - 1)?.code == .inflatedTooLarge)
        #expect(Self.error(Self.gzip(data), .gzip, limit: size - 1)?.code == .inflatedTooLarge)
    }

    @Test("inputs found by fuzzing (Fuzz/regressions/inflate) are answered within the limit")
    func regressions() throws {
        let directory = Self.repository.appendingPathComponent("Fuzz/regressions/inflate")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names {
            let bytes = try Self.file("Fuzz/regressions/inflate/\(name)")
            for format in [Inflater.Format.zlib, .gzip] {
                do {
                    #expect(try Self.inflate(bytes, format, limit: 1 << 20).count <= 1 << 20)
                } catch {
                    #expect([.badPayload, .inflatedTooLarge].contains(error.code), "\(name)")
                }
            }
        }
    }
}
