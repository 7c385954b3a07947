import CompressNIO
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore

/// Raw requests for the attack suites: every header exactly as the attacker sends it.
extension TestStack {
    /// `POST /v1/telemetry` with the given `Authorization` values (none, one or several), media
    /// type and `Content-Encoding` values; the body is sent as is.
    func attackPost(
        authorization: [String], contentType: [String] = ["application/senml+json"], contentEncoding: [String] = [],
        body: ByteBuffer, extraHeaders: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extraHeaders
        for value in authorization { headers.append(HTTPField(name: .authorization, value: value)) }
        for value in contentType { headers.append(HTTPField(name: .contentType, value: value)) }
        for value in contentEncoding { headers.append(HTTPField(name: .contentEncoding, value: value)) }
        return try await ingest.execute(uri: "/v1/telemetry", method: .post, headers: headers, body: body)
    }

    /// Rows in the telemetry table, every device.
    func telemetryRows() async throws -> Int {
        try await TestDatabase.scalar(databaseURL, "SELECT count(*)::int8 FROM telemetry")
    }

    /// Rows in a registry table (devices, operators, signing_keys, refresh_tokens).
    func rows(_ table: String) async throws -> Int {
        try await TestDatabase.scalar(databaseURL, "SELECT count(*)::int8 FROM \(table)")
    }
}

/// Hostile bodies for the payload attack suite.
enum AttackBodies {
    /// A SenML pack of three records stamped now, as the walking skeleton posts it.
    static func validPack(now: Double = Date().timeIntervalSince1970) -> String {
        #"[{"bn":"boiler/","bt":\#(now),"n":"temp","u":"Cel","v":71.5},"#
            + #"{"n":"pressure","u":"Pa","v":101325,"t":1},{"n":"door_open","vb":false}]"#
    }

    static func zlib(_ text: String) throws -> ByteBuffer {
        try compressed(ByteBuffer(string: text), with: .zlib())
    }

    static func gzip(_ text: String) throws -> ByteBuffer {
        try compressed(ByteBuffer(string: text), with: .gzip())
    }

    static func compressed(_ buffer: ByteBuffer, with algorithm: CompressionAlgorithm) throws -> ByteBuffer {
        var buffer = buffer
        return try buffer.compress(with: algorithm)
    }

    /// `inflatedBytes` of zeros as one zlib or gzip stream at the best ratio deflate allows (about
    /// 1030:1), made in 1 MiB steps so the test never holds the inflated bytes.
    static func zeroBomb(inflatedBytes: Int, algorithm: ZlibAlgorithm) throws -> ByteBuffer {
        let compressor = try ZlibCompressor(
            algorithm: algorithm, configuration: ZlibConfiguration(compressionLevel: .bestCompression))
        let step = 1 << 20
        let zeros = ByteBuffer(repeating: 0, count: step)
        // deflate's best case is 1032:1 (258-byte matches of 2 bits); leave room for the last flush.
        var output = ByteBufferAllocator().buffer(capacity: inflatedBytes / 1000 + (64 << 10))
        var remaining = inflatedBytes
        while remaining > 0 {
            let count = min(step, remaining)
            remaining -= count
            var input = zeros.getSlice(at: 0, length: count)!
            while input.readableBytes > 0 {
                try compressor.deflate(from: &input, to: &output, flush: remaining == 0 ? .finish : .no)
            }
        }
        return output
    }

    /// Bytes that no compressor can shrink, so a compressed body stays as large as its input.
    static func noise(_ count: Int) -> ByteBuffer {
        var generator = SystemRandomNumberGenerator()
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        for _ in 0..<(count / 8) { buffer.writeInteger(generator.next() as UInt64) }
        while buffer.readableBytes < count { buffer.writeInteger(UInt8.random(in: 0...255, using: &generator)) }
        return buffer
    }
}
