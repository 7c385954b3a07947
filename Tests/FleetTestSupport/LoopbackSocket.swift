#if canImport(Glibc)
    import Glibc

    /// A blocking TCP socket connected to 127.0.0.1, for tests that write raw HTTP (Linux only,
    /// like `make test`). Run it on `BlockingThread`, never on the cooperative pool.
    public enum LoopbackSocket {
        public struct Failure: Error, CustomStringConvertible {
            public let description: String
        }

        /// The connected descriptor (the caller closes it); a read waits at most `readTimeout`.
        public static func connect(port: Int, readTimeout: Duration) throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure(description: "socket() failed") }
            let (seconds, attoseconds) = readTimeout.components
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(fd)
                throw Failure(description: "connect() failed")
            }
            return fd
        }
    }
#endif
