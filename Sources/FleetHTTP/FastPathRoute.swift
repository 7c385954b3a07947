import FleetCore
import HTTPTypes
import NIOCore

/// One `POST` endpoint answered on the connection's event loop by `FastPathHandler`, before the
/// router: the route's own steps, without Hummingbird's per-request tasks. The handler owns the
/// connection's side (pipelining order, held reads, `Connection: close`, request metrics, the
/// request log); the route owns what the request means.
public protocol FastPathRoute: Sendable {
    /// What the route keeps of one request from its head to its answer.
    associatedtype Exchange: Sendable

    /// The path answered (query ignored), as request metrics and the request log name it.
    static var path: String { get }

    /// The largest body read. Past it the request is refused with `tooLarge` and the rest of the
    /// body is read and dropped (the handler collects the body).
    var bodyLimit: Int { get }
    var tooLarge: FleetError { get }

    /// The head's checks, without suspending. A refusal thrown here is answered once the body has
    /// been read and dropped; `finish` is not called for it.
    func begin(_ head: HTTPRequest) throws(FleetError) -> Exchange

    /// Answers a request whose body is complete. Called on `loop`; `done` is called once, on any
    /// thread (the handler brings the answer back to `loop`).
    func respond(
        _ exchange: Exchange, body: ByteBuffer, on loop: any EventLoop,
        done: @escaping @Sendable (Result<FastPathAnswer, FleetError>) -> Void)

    /// Called once for every exchange begun, answered or not (the client may leave mid-body).
    func finish(_ exchange: Exchange)

    /// Called for each refusal the handler answers, for the route's own counters.
    func refused(_ error: FleetError)
}

extension FastPathRoute {
    public func finish(_ exchange: Exchange) {}
    public func refused(_ error: FleetError) {}
}

/// A 200 answer of a fast path: its headers (Content-Length, Date and Server are added) and body.
public struct FastPathAnswer: Sendable {
    public var headers: HTTPFields
    public var body: ByteBuffer

    public init(headers: HTTPFields, body: ByteBuffer) {
        self.headers = headers
        self.body = body
    }

    /// `application/json`, with `extra` headers.
    public static func json(_ body: ByteBuffer, extra: HTTPFields = [:]) -> FastPathAnswer {
        var headers = extra
        headers[.contentType] = "application/json"
        return FastPathAnswer(headers: headers, body: body)
    }
}
