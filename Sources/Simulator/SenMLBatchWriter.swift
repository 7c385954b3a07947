import NIOCore

/// Writes a SenML pack (RFC 8428) by hand into a reused buffer: at 20 000 posts a second a
/// JSONEncoder per request would cost more than the rest of the request together.
///
/// A batch of `n` records walks the device's sensors in order; record `j` is sensor
/// `j % sensors` at `baseTime + j / sensors` milliseconds, so every record of a device has its
/// own (name, time) and the ledger can name it without storing it (see `LedgerBatch`).
public struct SenMLBatchWriter: Sendable {
    public let kinds: [SensorKind]

    public init(kinds: [SensorKind] = SensorKind.standard) {
        self.kinds = kinds
    }

    /// Milliseconds a batch of `recordCount` records spans (its last record's offset + 1).
    public func timeSpan(recordCount: Int) -> Int64 {
        Int64((recordCount + kinds.count - 1) / kinds.count)
    }

    /// Appends the pack to `buffer`. `baseTimeMillis` is Unix time in milliseconds.
    public func write(
        deviceID: String,
        baseTimeMillis: Int64,
        recordCount: Int,
        state: inout SensorState,
        using random: inout some RandomNumberGenerator,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeStaticString("[")
        for j in 0..<recordCount {
            let sensor = j % kinds.count
            if sensor == 0, j > 0 { state.advance(using: &random) }
            let kind = kinds[sensor]
            if j == 0 {
                buffer.writeStaticString("{\"bn\":\"")
                buffer.writeString(deviceID)
                buffer.writeStaticString("/\",\"bt\":")
                Self.writeMillisAsSeconds(baseTimeMillis, into: &buffer)
                buffer.writeStaticString(",\"n\":\"")
            } else {
                buffer.writeStaticString(",{\"n\":\"")
            }
            buffer.writeString(kind.name)
            buffer.writeStaticString("\",\"u\":\"")
            buffer.writeString(kind.unit)
            buffer.writeStaticString("\",\"v\":")
            Self.writeFixed(state.values[sensor], decimals: kind.decimals, into: &buffer)
            let tick = Int64(j / kinds.count)
            if tick > 0 {
                buffer.writeStaticString(",\"t\":")
                Self.writeMillisAsSeconds(tick, into: &buffer)
            }
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("]")
        state.advance(using: &random)
    }

    /// Writes `millis` as seconds with exactly three decimals ("1764400000.123", "0.002").
    static func writeMillisAsSeconds(_ millis: Int64, into buffer: inout ByteBuffer) {
        if millis < 0 { buffer.writeStaticString("-") }
        let magnitude = millis.magnitude
        buffer.writeString(String(magnitude / 1000))
        buffer.writeStaticString(".")
        let fraction = magnitude % 1000
        if fraction < 100 { buffer.writeStaticString("0") }
        if fraction < 10 { buffer.writeStaticString("0") }
        buffer.writeString(String(fraction))
    }

    /// Writes `value` rounded to `decimals` places without Foundation's formatter.
    static func writeFixed(_ value: Double, decimals: Int, into buffer: inout ByteBuffer) {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((value * Double(scale)).rounded())
        if scaled < 0 { buffer.writeStaticString("-") }
        let magnitude = scaled.magnitude
        buffer.writeString(String(magnitude / UInt64(scale)))
        guard decimals > 0 else { return }
        buffer.writeStaticString(".")
        let fraction = String(magnitude % UInt64(scale))
        for _ in fraction.count..<decimals { buffer.writeStaticString("0") }
        buffer.writeString(fraction)
    }
}
