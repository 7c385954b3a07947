import FleetCore
import NIOCore

/// Inflates a zlib (RFC 1950, HTTP's `deflate`) or gzip (RFC 1952) body and stops as soon as the
/// output passes `limit`, so a bomb costs at most `limit` bytes of memory.
///
/// Hand-written over system zlib instead of compress-nio: compress-nio reports a stream that ends
/// early (truncated) as success and has no way to tell "finished" from "wants more input", and the
/// contract needs both a truncated stream and trailing garbage answered as `bad_payload`. The zlib
/// loop is `ZlibInflate` (NIO-free, so `make fuzz` can run it under libFuzzer); this writes its
/// output straight into a `ByteBuffer`.
public struct Inflater: Sendable {
    public typealias Format = InflateFormat

    public let limit: Int

    public init(limit: Int) {
        self.limit = limit
    }

    public func inflate(_ input: ByteBuffer, format: Format) throws(FleetError) -> ByteBuffer {
        var output = ByteBuffer()
        try input.withUnsafeReadableBytes { bytes throws(FleetError) in
            try ZlibInflate.inflate(bytes, format: format, limit: limit, into: &output)
        }
        return output
    }
}

extension ByteBuffer: InflateOutput {
    var writtenBytes: Int { writerIndex }
    var totalCapacity: Int { capacity }
    mutating func reserveTotalCapacity(_ minimumCapacity: Int) { reserveCapacity(minimumCapacity) }

    mutating func appendIntoSpareCapacity(_ body: (UnsafeMutableRawBufferPointer) -> Int) {
        let written = withUnsafeMutableWritableBytes(body)
        moveWriterIndex(forwardBy: written)
    }
}
