import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes files that hold secrets: created with mode 0600 from the first byte (never written
/// world-readable and chmod-ed after), then renamed over the target so a crash leaves the old
/// file whole.
enum PrivateFile {
    static func write(_ data: Data, to path: String, mode: mode_t = 0o600) throws(SimulatorError) {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard descriptor >= 0 else {
            throw SimulatorError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        // umask may have narrowed the mode further; it can never widen it, but set it exactly.
        _ = fchmod(descriptor, mode)
        var failed = false
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc_write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 {
                    failed = true
                    return
                }
                offset += written
            }
        }
        if fsync(descriptor) != 0 { failed = true }
        close(descriptor)
        guard !failed, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw SimulatorError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// write(2), named apart from the many `write` methods in scope.
@inline(__always)
func Glibc_write(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, pointer, count)
}

/// Terminal output without Foundation's buffering or the non-Sendable `stdout` global. The
/// executable prints through it too, so its lines and the progress lines keep their order.
public enum Terminal {
    /// Whether standard output is a terminal (progress is then one line redrawn with \r).
    public static var standardOutputIsTerminal: Bool { isatty(1) == 1 }

    /// Writes `text` to standard output at once.
    public static func print(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc_write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
