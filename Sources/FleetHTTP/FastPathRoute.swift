import FleetCore
import HTTPTypes
import NIOCore

/// One `POST` endpoint answered on the connection's event loop by `FastPathHandler`, before the
/// router: the route's own steps, without Hummingbird's per-request tasks. The handler owns the
/// connection's side (pipelining order, held reads, `Connection: close`, request metrics, the
/// request log); the route owns what the request means.
///
/// Existential, not generic: NIO calls a handler through its channel-handler conformance, so a
/// handler generic over the route ran unspecialized in every service (generic metadata lookups and
/// dynamic casts on each request part, about 5 % of ingest's CPU at batch 1 in `perf`). The
/// handler is one concrete class; only the route's few calls go through witness tables.
public protocol FastPathRoute: Sendable {
    /// The path answered (query ignored), as request metrics and the request log name it.
    static var path: String { get }

    /// The largest body read. Past it the request is refused with `tooLarge` and the rest of the
    /// body is read and dropped (the handler collects the body).
    var bodyLimit: Int { get }
    var tooLarge: FleetError { get }

    /// The head's checks, without suspending. A refusal thrown here is answered once the body has
    /// been read and dropped.
    func begin(_ head: HTTPRequest) throws(FleetError) -> any FastPathExchange

    /// Called for each refusal the handler answers, for the route's own counters.
    func refused(_ error: FleetError)
}

extension FastPathRoute {
    public func refused(_ error: FleetError) {}
}

/// What a route keeps of one request from its head to its answer.
public protocol FastPathExchange: AnyObject, Sendable {
    /// Answers the request once its body is complete. Called on `loop`; `done` is called once, on
    /// any thread (the handler brings the answer back to `loop`).
    func respond(
        body: ByteBuffer, on loop: any EventLoop,
        done: @escaping @Sendable (Result<FastPathAnswer, FleetError>) -> Void)

    /// Called once for every exchange begun, answered or not (the client may leave mid-body).
    func finish()
}

extension FastPathExchange {
    public func finish() {}
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
