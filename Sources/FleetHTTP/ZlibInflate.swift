import CZlib
import FleetCore

/// The container around a deflate stream.
public enum InflateFormat: Sendable {
    /// zlib (RFC 1950), which HTTP calls `deflate`.
    case zlib
    /// gzip (RFC 1952).
    case gzip

    /// zlib's windowBits: 15 for a zlib wrapper, 15 + 16 for gzip only.
    var windowBits: Int32 { self == .zlib ? 15 : 31 }
    var name: String { self == .zlib ? "deflate (zlib)" : "gzip" }
}

/// A growable byte buffer the inflate loop writes into directly (NIO's `ByteBuffer` in the server,
/// `[UInt8]` in the fuzz target and tests), so the loop itself needs neither NIO nor a copy.
protocol InflateOutput {
    /// Bytes written so far.
    var writtenBytes: Int { get }
    /// Bytes that fit without growing.
    var totalCapacity: Int { get }
    /// Grows so that at least `minimumCapacity` bytes fit in total.
    mutating func reserveTotalCapacity(_ minimumCapacity: Int)
    /// Lets `body` write into the spare capacity after the written bytes; `body` returns how many it
    /// wrote, which then count as written.
    mutating func appendIntoSpareCapacity(_ body: (UnsafeMutableRawBufferPointer) -> Int)
}

extension [UInt8]: InflateOutput {
    var writtenBytes: Int { count }
    var totalCapacity: Int { capacity }
    mutating func reserveTotalCapacity(_ minimumCapacity: Int) { reserveCapacity(minimumCapacity) }

    mutating func appendIntoSpareCapacity(_ body: (UnsafeMutableRawBufferPointer) -> Int) {
        let written = count
        let spare = capacity - written
        append(contentsOf: repeatElement(0, count: spare))
        let used = withUnsafeMutableBytes { body(UnsafeMutableRawBufferPointer(rebasing: $0[written...])) }
        removeLast(spare - used)
    }
}

/// The inflate loop over system zlib, free of NIO so that `make fuzz` can build it with plain
/// `swiftc`: inflates a whole zlib or gzip body and stops as soon as the output passes `limit`, so a
/// bomb costs at most `limit + 1` bytes of memory. A stream that ends early (truncated), corrupt
/// data and bytes after the end of the stream are all `bad_payload`; `Inflater` wraps this for
/// `ByteBuffer`.
public enum ZlibInflate {
    /// Inflates `input` into a new array of at most `limit` bytes.
    public static func inflate(
        _ input: UnsafeRawBufferPointer, format: InflateFormat, limit: Int
    ) throws(FleetError) -> [UInt8] {
        var output: [UInt8] = []
        try inflate(input, format: format, limit: limit, into: &output)
        return output
    }

    /// Inflates `input`, appending to `output` (expected empty); throws `inflated_too_large` once
    /// the output would pass `limit`, `bad_payload` for a truncated or corrupt stream or trailing
    /// bytes, `internal_error` if zlib cannot start.
    static func inflate(
        _ input: UnsafeRawBufferPointer, format: InflateFormat, limit: Int, into output: inout some InflateOutput
    ) throws(FleetError) {
        var stream = z_stream()
        guard inflateInit2_(&stream, format.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FleetError(.internalError, "inflater could not start")
        }
        defer { inflateEnd(&stream) }

        // Start near a typical SenML ratio (~8x) and grow; never beyond limit + 1 bytes.
        output.reserveTotalCapacity(min(max(input.count * 8, 4096), limit + 1))
        // zlib reads through a mutable pointer type but never writes the input (nil when empty is
        // allowed with avail_in 0).
        stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
        stream.avail_in = UInt32(input.count)
        let result: Int32 = {
            while true {
                if output.totalCapacity - output.writtenBytes <= 0 {
                    let grown = min(output.totalCapacity * 2, limit + 1)
                    if grown <= output.totalCapacity { return Z_BUF_ERROR }  // past the limit
                    output.reserveTotalCapacity(grown)
                }
                var code: Int32 = Z_OK
                var past = false
                let written = output.writtenBytes
                output.appendIntoSpareCapacity { outBytes -> Int in
                    let room = min(outBytes.count, limit + 1 - written)
                    if room <= 0 {
                        past = true
                        return 0
                    }
                    stream.next_out = outBytes.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = UInt32(room)
                    code = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return room - Int(stream.avail_out)
                }
                if past || output.writtenBytes > limit { return Z_BUF_ERROR }
                switch code {
                case Z_STREAM_END:
                    return stream.avail_in == 0 ? Z_STREAM_END : Z_DATA_ERROR  // trailing garbage
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: input is exhausted before the end of the stream.
                    if stream.avail_in == 0 { return Z_NEED_DICT + 1000 }
                    continue
                default:
                    return code
                }
            }
        }()
        switch result {
        case Z_STREAM_END:
            return
        case Z_BUF_ERROR:
            throw FleetError(.inflatedTooLarge, "inflated body exceeds \(limit) bytes; decompression stopped there")
        case Z_NEED_DICT + 1000:
            throw FleetError(.badPayload, "\(format.name) stream is truncated")
        default:
            throw FleetError(.badPayload, "corrupt \(format.name) stream")
        }
    }
}
