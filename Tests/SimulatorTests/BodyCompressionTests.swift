import CompressNIO
import NIOCore
import Testing

@testable import Simulator

@Suite("Body compression")
struct BodyCompressionTests {
    @Test("bodies deflated with the sized window and hash table inflate back with the server's default window")
    func roundTrip() throws {
        for records in [1, 4, 100, 10_000] {
            let configuration = Simulation.zlibConfiguration(recordsPerBatch: records)
            #expect((9...15).contains(configuration.windowSize))
            #expect((1...8).contains(configuration.memoryLevel))
            var random = SplitMix64(seed: UInt64(records))
            var state = SensorState(using: &random)
            var pack = ByteBuffer()
            SenMLBatchWriter().write(
                deviceID: "sim-000001", baseTimeMillis: 1_764_400_000_000, recordCount: records, state: &state,
                using: &random, into: &pack)
            let original = pack
            for algorithm in [ZlibAlgorithm.zlib, .gzip] {
                let compressor = try ZlibCompressor(algorithm: algorithm, configuration: configuration)
                // Twice through one compressor, as the generator resets and reuses it.
                for _ in 0..<2 {
                    try compressor.reset()
                    var input = original
                    var body = ByteBuffer()
                    body.reserveCapacity(compressor.maxSize(from: input))
                    try compressor.deflate(from: &input, to: &body, flush: .finish)
                    // A one-record pack is ~70 bytes, less than gzip's framing saves.
                    if records >= 100 { #expect(body.readableBytes < original.readableBytes / 2) }
                    let inflated = try body.decompress(with: algorithm == .zlib ? .zlib() : .gzip())
                    #expect(inflated == original, "\(records) records, \(algorithm)")
                }
            }
        }
    }
}
