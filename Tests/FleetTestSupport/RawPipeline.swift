#if canImport(Glibc)
    import Foundation
    import Glibc

    /// Linux only (Glibc sockets), like `make test`. Several HTTP/1.1 requests written at once on
    /// one connection (pipelining, which the test client never does), the answers read until the
    /// server closes the connection and split by their Content-Length.
    public enum RawPipeline {
        public struct Answer: Sendable {
            public let status: Int
            public let headers: [String: String]
            public let body: String
        }

        public struct Exchange: Sendable {
            public let answers: [Answer]
            /// The server closed the connection (read returned 0), as opposed to a read timeout.
            public let closedByServer: Bool
        }

        public struct Failure: Error, CustomStringConvertible {
            public let description: String
        }

        /// A request with a Content-Length body; `close` adds `Connection: close`.
        public static func request(
            _ method: String, _ path: String, headers: [String: String] = [:], body: String = "", close: Bool = false
        ) -> String {
            var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            for (name, value) in headers { text += "\(name): \(value)\r\n" }
            if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.utf8.count)\r\n" }
            if close { text += "Connection: close\r\n" }
            return text + "\r\n" + body
        }

        /// `readFor`: how long a read may wait for more before the exchange ends without EOF.
        /// `halfClose`: shut the sending side once the requests are written, as a client that has
        /// nothing more to send does (`shutdown(SHUT_WR)`).
        public static func exchange(
            port: Int, requests: [String], readFor: Duration = .seconds(15), halfClose: Bool = false
        ) async throws -> Exchange {
            try await BlockingThread.run {
                let fd = try LoopbackSocket.connect(port: port, readTimeout: readFor)
                defer { close(fd) }
                let bytes = Array(requests.joined().utf8)
                var offset = 0
                while offset < bytes.count {
                    let sent = bytes[offset...].withUnsafeBytes {
                        send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    }
                    guard sent > 0 else { throw Failure(description: "send() failed") }
                    offset += sent
                }
                if halfClose { shutdown(fd, Int32(SHUT_WR)) }
                var received = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 16 << 10)
                var closedByServer = false
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count == 0 { closedByServer = true }
                    if count <= 0 { break }
                    received += buffer[0..<count]
                }
                return Exchange(answers: try split(received), closedByServer: closedByServer)
            }
        }

        private static func split(_ bytes: [UInt8]) throws -> [Answer] {
            var answers: [Answer] = []
            var rest = bytes[...]
            let separator: [UInt8] = [13, 10, 13, 10]
            while !rest.isEmpty {
                guard let end = rest.indices.first(where: { rest[$0...].starts(with: separator) }) else {
                    throw Failure(description: "an answer without the end of its head")
                }
                let head = String(decoding: rest[..<end], as: UTF8.self).components(separatedBy: "\r\n")
                var headers: [String: String] = [:]
                for line in head.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                        .trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                let bodyStart = end + separator.count
                guard rest.endIndex - bodyStart >= length else { throw Failure(description: "a truncated body") }
                let status = head[0].split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                answers.append(
                    Answer(
                        status: status, headers: headers,
                        body: String(decoding: rest[bodyStart..<(bodyStart + length)], as: UTF8.self)))
                rest = rest[(bodyStart + length)...]
            }
            return answers
        }
    }
#endif
