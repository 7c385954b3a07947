#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Cryptographically secure random bytes from the kernel, in one call: a read(2) of
/// /dev/urandom (opened once) on Linux, arc4random_buf on Darwin. `SystemRandomNumberGenerator`
/// makes a system call for every eight bytes, four for each refresh token: 9 % of a 100 000-device
/// bulk enrollment (perf). (getrandom(2) itself is not in Swift's Glibc module.)
public enum RandomBytes {
    public static func make(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }

    #if canImport(Glibc)
        private static let urandom: Int32 = {
            let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            precondition(fd >= 0, "cannot open /dev/urandom: errno \(errno)")
            return fd
        }()
    #endif

    static func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        #if canImport(Glibc)
            var filled = 0
            while filled < buffer.count {
                let got = read(urandom, base + filled, buffer.count - filled)
                if got > 0 {
                    filled += got
                } else if got < 0 && errno == EINTR {
                    continue
                } else {
                    // Reads of /dev/urandom do not fail; never hand out bytes that were not filled.
                    fatalError("reading /dev/urandom failed: errno \(errno)")
                }
            }
        #else
            arc4random_buf(base, buffer.count)
        #endif
    }
}
