import CZlib
import FleetCore
import NIOCore

/// Inflates a zlib (RFC 1950, HTTP's `deflate`) or gzip (RFC 1952) body and stops as soon as the
/// output passes `limit`, so a bomb costs at most `limit` bytes of memory.
///
/// Hand-written over system zlib instead of compress-nio: compress-nio reports a stream that ends
/// early (truncated) as success and has no way to tell "finished" from "wants more input", and the
/// contract needs both a truncated stream and trailing garbage answered as `bad_payload`.
public struct Inflater: Sendable {
    public enum Format: Sendable {
        case zlib
        case gzip

        /// zlib's windowBits: 15 for a zlib wrapper, 15 + 16 for gzip only.
        var windowBits: Int32 { self == .zlib ? 15 : 31 }
        var name: String { self == .zlib ? "deflate (zlib)" : "gzip" }
    }

    public let limit: Int

    public init(limit: Int) {
        self.limit = limit
    }

    public func inflate(_ input: ByteBuffer, format: Format) throws(FleetError) -> ByteBuffer {
        var stream = z_stream()
        guard inflateInit2_(&stream, format.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FleetError(.internalError, "inflater could not start")
        }
        defer { inflateEnd(&stream) }

        // Start near a typical SenML ratio (~8x) and grow; never beyond limit + 1 bytes.
        var output = ByteBufferAllocator().buffer(capacity: min(max(input.readableBytes * 8, 4096), limit + 1))
        let result: Int32 = input.withUnsafeReadableBytes { inBytes -> Int32 in
            stream.next_in = UnsafeMutablePointer(mutating: inBytes.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = UInt32(inBytes.count)
            while true {
                if output.writableBytes == 0 {
                    let grown = min(output.capacity * 2, limit + 1)
                    if grown <= output.capacity { return Z_BUF_ERROR }  // past the limit
                    output.reserveCapacity(grown)
                }
                let room = min(output.writableBytes, limit + 1 - output.writerIndex)
                if room <= 0 { return Z_BUF_ERROR }
                let (code, written) = output.withUnsafeMutableWritableBytes { outBytes -> (Int32, Int) in
                    stream.next_out = outBytes.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = UInt32(room)
                    let code = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (code, room - Int(stream.avail_out))
                }
                output.moveWriterIndex(forwardBy: written)
                if output.writerIndex > limit { return Z_BUF_ERROR }
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
        }
        switch result {
        case Z_STREAM_END:
            return output
        case Z_BUF_ERROR:
            throw FleetError(.inflatedTooLarge, "inflated body exceeds \(limit) bytes; decompression stopped there")
        case Z_NEED_DICT + 1000:
            throw FleetError(.badPayload, "\(format.name) stream is truncated")
        default:
            throw FleetError(.badPayload, "corrupt \(format.name) stream")
        }
    }
}
