import Foundation
import NIOCore
import Testing

@testable import Simulator

@Suite("SenML batches")
struct SenMLBatchWriterTests {
    func pack(records: Int, base: Int64 = 1_764_400_000_123) throws -> [[String: Any]] {
        var random = SplitMix64(seed: 3)
        var state = SensorState(using: &random)
        var buffer = ByteBuffer()
        SenMLBatchWriter().write(
            deviceID: "sim-000001", baseTimeMillis: base, recordCount: records, state: &state, using: &random,
            into: &buffer
        )
        let object = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))
        return try #require(object as? [[String: Any]])
    }

    @Test("a pack has bn, an absolute bt, units and values")
    func shape() throws {
        let records = try pack(records: 4)
        #expect(records.count == 4)
        #expect(records[0]["bn"] as? String == "sim-000001/")
        #expect((records[0]["bt"] as? Double).map { abs($0 - 1_764_400_000.123) < 1e-6 } == true)
        #expect(records.map { $0["n"] as? String } == ["temp", "humidity", "pressure", "battery"])
        #expect(records.map { $0["u"] as? String } == ["Cel", "%RH", "Pa", "%"])
        #expect(records.allSatisfy { $0["v"] is Double })
        #expect(records.allSatisfy { $0["t"] == nil })
    }

    @Test("records beyond one round of sensors step 1 ms, matching the ledger")
    func times() throws {
        let records = try pack(records: 9)
        #expect(records.map { ($0["t"] as? Double) ?? 0 } == [0, 0, 0, 0, 0.001, 0.001, 0.001, 0.001, 0.002])
        let ledger = Ledger()
        let keys = ledger.records(
            of: LedgerBatch(
                deviceID: "sim-000001", idempotencyKey: "k", baseTimeMillis: 7, recordCount: 9, acknowledged: true))
        #expect(keys.map(\.timeMillis) == [7, 7, 7, 7, 8, 8, 8, 8, 9])
        #expect(SenMLBatchWriter().timeSpan(recordCount: 9) == 3)
    }

    @Test("readings drift like a random walk and stay in range")
    func drift() {
        var random = SplitMix64(seed: 9)
        var state = SensorState(using: &random)
        let first = state.values
        for _ in 0..<10_000 { state.advance(using: &random) }
        for (index, kind) in SensorKind.standard.enumerated() {
            #expect(kind.range.contains(state.values[index]))
        }
        #expect(state.values != first)
        var single = SensorState(using: &random)
        let before = single.values[0]
        single.advance(using: &random)
        #expect(abs(single.values[0] - before) <= SensorKind.standard[0].step * 1.5)
    }

    @Test("numbers are written with fixed decimals")
    func numbers() {
        func text(_ value: Double, _ decimals: Int) -> String {
            var buffer = ByteBuffer()
            SenMLBatchWriter.writeFixed(value, decimals: decimals, into: &buffer)
            return String(buffer: buffer)
        }
        #expect(text(21.5, 2) == "21.50")
        #expect(text(-0.05, 2) == "-0.05")
        #expect(text(101_325.4, 0) == "101325")
        #expect(text(3.04, 1) == "3.0")
        var buffer = ByteBuffer()
        SenMLBatchWriter.writeMillisAsSeconds(1_764_400_000_007, into: &buffer)
        #expect(String(buffer: buffer) == "1764400000.007")
    }

    @Test("a corrupt deflate body has an invalid zlib header")
    func corrupt() {
        var body = ByteBuffer(bytes: [0x78, 0x01, 0x4B, 0x4C])
        Simulation.corrupt(&body, encoding: .deflate)
        #expect(Array(body.readableBytesView) == [0, 0, 0x4B, 0x4C])
        var json = ByteBuffer(string: "[{\"n\":\"x\",\"v\":1}]")
        Simulation.corrupt(&json, encoding: .identity)
        #expect(json.readableBytes < 17)
    }
}
