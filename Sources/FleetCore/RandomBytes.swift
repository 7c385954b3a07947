/// Cryptographically secure random bytes from the system generator (getrandom on Linux), eight
/// at a time: drawing them one by one costs a system call per byte, 32 for every refresh token.
public enum RandomBytes {
    public static func make(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }
}
