#if canImport(Glibc)
    import FleetTestSupport
    import Foundation
    import Glibc
    import NIOCore

    /// Linux only (Glibc sockets), like `make test`.
    /// A bare HTTP/1.1 exchange over a blocking socket, for what the test client cannot send: a
    /// chunked body with no `Content-Length`. One request, `Connection: close`, answer read to EOF.
    enum AttackRawHTTP {
        struct Answer {
            let status: Int
            let head: String
            let body: String
        }

        struct Failure: Error, CustomStringConvertible {
            let description: String
        }

        /// Sends `head` (request line and headers, without the blank line) and `body` in chunks of
        /// `chunkSize` as `Transfer-Encoding: chunked`, then reads the answer. The server may answer
        /// and close before the body is sent; the rest of the body is then dropped.
        static func chunkedPost(port: Int, head: String, body: ByteBuffer, chunkSize: Int = 64 << 10) async throws
            -> Answer
        {
            try await BlockingThread.run {
                let fd = try LoopbackSocket.connect(port: port, readTimeout: .seconds(15))
                defer { close(fd) }

                /// False once the server has closed its side (it answered early).
                func transmit(_ bytes: [UInt8]) -> Bool {
                    var offset = 0
                    while offset < bytes.count {
                        // MSG_NOSIGNAL: a closed peer is an answer here, not a SIGPIPE.
                        let sent = bytes[offset...].withUnsafeBytes {
                            send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                        }
                        if sent <= 0 { return false }
                        offset += sent
                    }
                    return true
                }
                var open = transmit(Array((head + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").utf8))
                var rest = body
                while open, rest.readableBytes > 0 {
                    let chunk = rest.readBytes(length: min(chunkSize, rest.readableBytes))!
                    open = transmit(Array(String(chunk.count, radix: 16).utf8) + [13, 10] + chunk + [13, 10])
                }
                if open { _ = transmit(Array("0\r\n\r\n".utf8)) }

                var answer = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 16 << 10)
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { break }
                    answer += buffer[0..<count]
                }
                let text = String(decoding: answer, as: UTF8.self)
                guard let split = text.range(of: "\r\n\r\n") else {
                    throw Failure(description: "no HTTP answer (\(answer.count) bytes)")
                }
                let head = String(text[..<split.lowerBound])
                let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                return Answer(status: status, head: head, body: String(text[split.upperBound...]))
            }
        }
    }
#endif
