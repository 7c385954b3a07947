import NIOCore
import NIOHTTP1

/// Frames one HTTP/1.1 answer to a POST (RFC 9112) from the bytes read so far, in place of
/// NIO's `HTTPResponseDecoder`, whose per-header callbacks and `HTTPHeaders` cost ~8 % of the
/// simulator's CPU at 25 000 posts a second. Answers are small and usually arrive in one read,
/// so the parser simply re-reads the bytes it holds until an answer is complete: status line,
/// the few header fields the simulator reads, and a body framed by Content-Length, chunked
/// transfer coding (§7.1) or the connection's close (§6.3).
enum TelemetryResponseParser {
    struct Answer: Equatable {
        var status: Int
        var keepAlive: Bool
        /// Retry-After and Content-Type, kept for answers other than 200 only.
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    enum Result: Equatable {
        case needMore
        case answer(Answer)
        case invalid
        /// The head or body is over `limit` bytes.
        case tooLong
    }

    /// Most bytes a head may have.
    static let headLimit = 16_384

    /// Parses one answer with a body of at most `limit` bytes from the front of
    /// `buffer`; on `.answer` its bytes are consumed. `closed`: the connection has ended, so a
    /// body without a length ends here.
    static func parse(_ buffer: inout ByteBuffer, limit: Int, closed: Bool = false) -> Result {
        var result = Result.needMore
        let consumed: Int = buffer.withUnsafeReadableBytes { bytes in
            var cursor = Cursor(bytes: bytes)
            while true {
                guard let head = cursor.head(limit: headLimit) else {
                    result = cursor.failed ? .invalid : (bytes.count > headLimit ? .tooLong : .needMore)
                    return 0
                }
                // 1xx answers are interim (RFC 9110 §15.2); the real one follows.
                if (100..<200).contains(head.status), head.status != 101 { continue }
                var body = ByteBuffer()
                let ended: Bool
                if head.status == 204 || head.status == 304 {
                    ended = true
                } else if head.chunked {
                    switch cursor.chunkedBody(into: &body, limit: limit) {
                    case .some(true): ended = true
                    case .some(false): ended = false
                    case .none:
                        result = .invalid
                        return 0
                    }
                } else if let length = head.contentLength {
                    guard length <= limit else {
                        result = .tooLong
                        return 0
                    }
                    ended = cursor.take(length, into: &body)
                } else {
                    // Read until the server closes (RFC 9112 §6.3, item 8).
                    guard cursor.remaining <= limit else {
                        result = .tooLong
                        return 0
                    }
                    _ = cursor.take(cursor.remaining, into: &body)
                    guard closed else { return 0 }
                    result = .answer(Answer(status: head.status, keepAlive: false, headers: head.headers, body: body))
                    return cursor.offset
                }
                guard ended, body.readableBytes <= limit else {
                    result = body.readableBytes > limit || bytes.count > limit + headLimit ? .tooLong : .needMore
                    return 0
                }
                result = .answer(
                    Answer(status: head.status, keepAlive: head.keepAlive, headers: head.headers, body: body))
                return cursor.offset
            }
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        return result
    }
}

/// Reads through the bytes of an answer.
private struct Cursor {
    struct Head {
        var status: Int
        var keepAlive: Bool
        var chunked = false
        var contentLength: Int?
        var headers = HTTPHeaders()
    }

    let bytes: UnsafeRawBufferPointer
    var offset = 0
    /// The bytes cannot be an answer (as opposed to: not all there yet).
    var failed = false

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    /// The next line without its CRLF (a bare LF is accepted, RFC 9112 §2.2), or nil if it is not complete.
    mutating func line() -> UnsafeRawBufferPointer? {
        var end = offset
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        guard end < bytes.count else { return nil }
        var last = end
        if last > offset, bytes[last - 1] == UInt8(ascii: "\r") { last -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: bytes[offset..<last])
        offset = end + 1
        return line
    }

    mutating func head(limit: Int) -> Head? {
        let start = offset
        guard let statusLine = line() else { return nil }
        // "HTTP/1.x 200 reason"
        guard statusLine.count >= 12, statusLine.starts(with: "HTTP/1.".utf8), statusLine[9 - 1] == UInt8(ascii: " "),
            let status = Self.number(UnsafeRawBufferPointer(rebasing: statusLine[9..<12]), radix: 10),
            statusLine.count == 12 || statusLine[12] == UInt8(ascii: " ")
        else {
            failed = true
            return nil
        }
        let minor = statusLine[7]
        var head = Head(status: status, keepAlive: minor != UInt8(ascii: "0"))
        while true {
            // Over the limit: the caller sees more than `limit` bytes and calls it too long.
            guard offset - start <= limit, let field = line() else { return nil }
            if field.isEmpty { return head }
            guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else {
                failed = true
                return nil
            }
            let name = UnsafeRawBufferPointer(rebasing: field[..<colon])
            let value = Self.trimmed(UnsafeRawBufferPointer(rebasing: field[(colon + 1)...]))
            if Self.equalsIgnoringCase(name, "content-length") {
                guard let length = Self.number(value, radix: 10),
                    head.contentLength == nil || head.contentLength == length
                else {
                    failed = true
                    return nil
                }
                head.contentLength = length
            } else if Self.equalsIgnoringCase(name, "transfer-encoding") {
                // The last coding must be chunked for a response framed by it (§6.1); anything
                // else is read until close, as the RFC says.
                head.chunked = Self.endsWithIgnoringCase(value, "chunked")
            } else if Self.equalsIgnoringCase(name, "connection") {
                if Self.containsIgnoringCase(value, "close") { head.keepAlive = false }
                if Self.containsIgnoringCase(value, "keep-alive") { head.keepAlive = true }
            } else if head.status != 200,
                Self.equalsIgnoringCase(name, "retry-after") || Self.equalsIgnoringCase(name, "content-type")
            {
                head.headers.add(
                    name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
            }
        }
    }

    /// Appends a chunked body to `body`: true when its last chunk and trailers are in, false
    /// when more bytes are needed, nil when it is malformed.
    mutating func chunkedBody(into body: inout ByteBuffer, limit: Int) -> Bool? {
        while true {
            guard let sizeLine = line() else { return false }
            var digits = sizeLine
            if let semicolon = sizeLine.firstIndex(of: UInt8(ascii: ";")) {
                digits = UnsafeRawBufferPointer(rebasing: sizeLine[..<semicolon])
            }
            guard let size = Self.number(Self.trimmed(digits), radix: 16), size <= limit else { return nil }
            if size == 0 {
                // Trailer fields, then the empty line.
                while true {
                    guard let trailer = line() else { return false }
                    if trailer.isEmpty { return true }
                }
            }
            guard take(size, into: &body) else { return false }
            guard let end = line() else { return false }
            guard end.isEmpty else { return nil }
        }
    }

    /// Appends the next `count` bytes to `body`, or returns false if they are not all there.
    mutating func take(_ count: Int, into body: inout ByteBuffer) -> Bool {
        guard remaining >= count else { return false }
        body.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
        offset += count
        return true
    }

    static func number(_ digits: UnsafeRawBufferPointer, radix: Int) -> Int? {
        guard !digits.isEmpty, digits.count <= 15 else { return nil }
        var value = 0
        for byte in digits {
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = Int(byte - UInt8(ascii: "A")) + 10
            default: return nil
            }
            value = value * radix + digit
        }
        return value
    }

    static func trimmed(_ value: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = value.count
        while start < end, value[start] == UInt8(ascii: " ") || value[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, value[end - 1] == UInt8(ascii: " ") || value[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: value[start..<end])
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let pattern = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<bytes.count where lower(bytes[index]) != pattern[index] { return false }
        return true
    }

    static func endsWithIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        return equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - count)...]), lowercase)
    }

    static func containsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        for start in 0...(bytes.count - count)
        where equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)]), lowercase) {
            return true
        }
        return false
    }
}
