import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import Simulator

@Suite("Telemetry response parser")
struct TelemetryResponseParserTests {
    static func parse(_ text: String, closed: Bool = false, limit: Int = 1 << 16) -> TelemetryResponseParser.Result {
        var buffer = ByteBuffer(string: text)
        return TelemetryResponseParser.parse(&buffer, limit: limit, closed: closed)
    }

    static func answer(_ text: String, closed: Bool = false) throws -> TelemetryResponseParser.Answer {
        guard case .answer(let answer) = parse(text, closed: closed) else {
            Issue.record("no answer from \(text.debugDescription): \(parse(text, closed: closed))")
            throw CancellationError()
        }
        return answer
    }

    @Test("a Content-Length answer, byte by byte: needs more until the last byte, then the answer")
    func contentLength() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"accepted\":1}"
        for end in 0..<text.utf8.count {
            #expect(Self.parse(String(text.utf8.prefix(end))!) == .needMore)
        }
        let answer = try Self.answer(text)
        #expect(answer.status == 200)
        #expect(answer.keepAlive)
        #expect(answer.body == ByteBuffer(string: "{\"accepted\":1}"))
    }

    @Test("only the first answer is consumed; what follows stays in the buffer")
    func consumesOneAnswer() {
        var buffer = ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n")
        guard case .answer(let answer) = TelemetryResponseParser.parse(&buffer, limit: 100) else {
            Issue.record("no answer")
            return
        }
        #expect(answer.status == 204)
        #expect(buffer == ByteBuffer(string: "HTTP/1.1 200 OK\r\n"))
    }

    @Test("a chunked answer with an extension and a trailer, header names in any case")
    func chunked() throws {
        let text =
            "HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: Chunked\r\nRETRY-AFTER:  2 \r\n\r\n"
            + "5;ext=1\r\n{\"cod\r\n10\r\ne\":\"overloaded\"}\r\n0\r\nX-Trailer: y\r\n\r\n"
        #expect(Self.parse(String(text.dropLast(2))) == .needMore)
        let answer = try Self.answer(text)
        #expect(answer.status == 503)
        #expect(answer.body == ByteBuffer(string: #"{"code":"overloaded"}"#))
        #expect(answer.headers["Retry-After"] == ["2"])
        #expect(
            FleetgateClient.problem(status: 503, body: Data(answer.body.readableBytesView), headers: answer.headers)
                == ProblemAnswer(status: 503, code: "overloaded", retryAfter: .seconds(2)))
    }

    @Test("Connection: close, HTTP/1.0 and keep-alive decide whether the connection stays")
    func keepAlive() throws {
        #expect(try Self.answer("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive == false)
        #expect(try Self.answer("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive == false)
        #expect(try Self.answer("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").keepAlive)
        #expect(try Self.answer("HTTP/1.1 200 OK\nContent-Length: 0\n\n").keepAlive)
    }

    @Test("without a length the body runs to the connection's close")
    func closeDelimited() throws {
        let text = "HTTP/1.1 500 Internal Server Error\r\n\r\n{\"code\":\"internal\"}"
        #expect(Self.parse(text) == .needMore)
        let answer = try Self.answer(text, closed: true)
        #expect(answer.status == 500)
        #expect(answer.keepAlive == false)
        #expect(answer.body == ByteBuffer(string: #"{"code":"internal"}"#))
    }

    @Test("an interim 100 Continue is skipped")
    func interim() throws {
        let answer = try Self.answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(answer.status == 200)
        #expect(answer.body == ByteBuffer(string: "ok"))
    }

    @Test("garbage, a bad status, conflicting lengths and bad chunk sizes are invalid")
    func invalid() {
        #expect(Self.parse("SSH-2.0-OpenSSH\r\n") == .invalid)
        #expect(Self.parse("HTTP/1.1 2x0 OK\r\n\r\n") == .invalid)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nno colon\r\n\r\n") == .invalid)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab") == .invalid)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n") == .invalid)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == .invalid)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n") == .invalid)
    }

    @Test("a body over the limit is too long, whether announced, chunked or read to the close")
    func tooLong() {
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", limit: 10) == .tooLong)
        #expect(Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", limit: 10) != .tooLong)
        let chunks = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n"
        #expect(Self.parse(chunks, limit: 10) == .tooLong)
        #expect(Self.parse("HTTP/1.1 200 OK\r\n\r\n0123456789a", closed: true, limit: 10) == .tooLong)
        #expect(Self.parse("HTTP/1.1 200 OK\r\n" + String(repeating: "X-A: b\r\n", count: 3000)) == .tooLong)
    }
}
