/// Header values compared on their bytes: the telemetry hot path checks Content-Type and
/// Content-Encoding on every post, and Foundation's trimming and lowercasing cost more than the
/// rest of its header checks together (BENCHMARKS.md, ingest profile).
public enum HeaderValue {
    /// The value up to `stop` (when given and present), without leading or trailing spaces and tabs.
    public static func trimmed(_ value: String, stoppingAt stop: UInt8? = nil) -> Substring.UTF8View {
        var utf8 = Substring(value).utf8
        if let stop, let end = utf8.firstIndex(of: stop) { utf8 = utf8[..<end] }
        while let first = utf8.first, isBlank(first) { utf8 = utf8.dropFirst() }
        while let last = utf8.last, isBlank(last) { utf8 = utf8.dropLast() }
        return utf8
    }

    /// ASCII case-insensitive equality with a name written in lowercase.
    public static func equals(_ bytes: Substring.UTF8View, lowercase name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        let wanted = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return zip(bytes, wanted).allSatisfy { byte, want in
            byte == want || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) && byte | 0x20 == want
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
}
