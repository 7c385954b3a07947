// libFuzzer target: inflate the input as zlib and as gzip under a 1 MiB limit (never more output
// than the limit, only contract errors), and round-trip it through zlib's compress2.
// Built by Fuzz/run.sh with Sources/FleetHTTP/ZlibInflate.swift and -lz.
import CZlib
import FleetCore

let limit = 1 << 20

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for format in [InflateFormat.zlib, .gzip] {
        do {
            let output = try ZlibInflate.inflate(input, format: format, limit: limit)
            guard output.count <= limit else { fatalError("\(output.count) bytes out, limit \(limit)") }
        } catch {
            guard error.code == .badPayload || error.code == .inflatedTooLarge else { fatalError("\(error)") }
        }
    }
    // Round trip: whatever zlib compresses must inflate back to the same bytes.
    var compressedSize = compressBound(uLong(size))
    var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
    let level = Int32(size % 10)
    let code = compressed.withUnsafeMutableBufferPointer { out in
        compress2(out.baseAddress, &compressedSize, data, uLong(size), level)
    }
    guard code == Z_OK else { fatalError("compress2 failed: \(code)") }
    compressed.removeLast(compressed.count - Int(compressedSize))
    do {
        let back = try compressed.withUnsafeBytes { bytes throws(FleetError) in
            try ZlibInflate.inflate(bytes, format: .zlib, limit: max(size, 1))
        }
        guard back.elementsEqual(input) else { fatalError("round trip changed \(size) bytes") }
    } catch {
        fatalError("round trip of \(size) bytes failed: \(error)")
    }
    return 0
}
