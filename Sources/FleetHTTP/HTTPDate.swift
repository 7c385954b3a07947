import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `Date` header's value (RFC 9110 §5.6.7, IMF-fixdate), formatted once a second, for
/// answers written outside the router (the router's come with Hummingbird's own).
public final class HTTPDate: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    public init() {}

    public var now: String {
        var seconds = time(nil)
        return cached.withLock { cached in
            if cached.second != seconds {
                var parts = tm()
                gmtime_r(&seconds, &parts)
                var bytes = [CChar](repeating: 0, count: 32)
                let count = strftime(&bytes, bytes.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
                cached = (
                    Int(seconds), String(decoding: bytes.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                )
            }
            return cached.text
        }
    }
}
