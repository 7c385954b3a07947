import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 (a port of its own), in-process, that answers each
/// request as its script says and remembers what it received and on which connection.
/// Stands in for ingest in the telemetry client's tests.
final class ScriptedHTTPServer: Sendable {
    /// What to do with one request.
    enum Answer: Sendable {
        /// A complete answer with Content-Length; `close` adds `Connection: close` and closes after it.
        case respond(status: Int, body: String, headers: [(String, String)] = [], close: Bool = false)
        /// No answer ever (the connection stays open).
        case hang
        /// Close the connection without answering.
        case close
    }

    /// One request as the server read it.
    struct Received: Sendable {
        /// 1 for the first connection accepted, 2 for the next, …
        var connection: Int
        var head: HTTPRequestHead
        var body: [UInt8]
    }

    /// What the connections saw, shared with their handlers.
    fileprivate final class Record: Sendable {
        let requests = Mutex<[Received]>([])
        let accepted = Atomic<Int>(0)
    }

    private let channel: any Channel
    private let record: Record

    var port: Int { channel.localAddress?.port ?? 0 }
    var received: [Received] { record.requests.withLock { $0 } }
    /// Connections accepted so far.
    var connections: Int { record.accepted.load(ordering: .relaxed) }

    private init(channel: any Channel, record: Record) {
        self.channel = channel
        self.record = record
    }

    /// Starts a server whose `script` decides the answer to each request.
    static func start(script: @escaping @Sendable (Received) -> Answer) async throws -> ScriptedHTTPServer {
        let record = Record()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = record.accepted.add(1, ordering: .relaxed).newValue
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        ScriptedHandler(connection: number, record: record, script: script))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedHTTPServer(channel: channel, record: record)
    }

    func shutdown() async throws {
        try await channel.close()
    }
}

/// One accepted connection of a `ScriptedHTTPServer`.
private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let connection: Int
    let record: ScriptedHTTPServer.Record
    let script: @Sendable (ScriptedHTTPServer.Received) -> ScriptedHTTPServer.Answer
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(
        connection: Int, record: ScriptedHTTPServer.Record,
        script: @escaping @Sendable (ScriptedHTTPServer.Received) -> ScriptedHTTPServer.Answer
    ) {
        self.connection = connection
        self.record = record
        self.script = script
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let part):
            body += part.readableBytesView
        case .end:
            guard let head else { return }
            let request = ScriptedHTTPServer.Received(connection: connection, head: head, body: body)
            record.requests.withLock { $0.append(request) }
            switch script(request) {
            case .hang:
                break
            case .close:
                context.close(promise: nil)
            case .respond(let status, let text, let extra, let close):
                var headers = HTTPHeaders([
                    ("Content-Type", "application/json"), ("Content-Length", "\(text.utf8.count)"),
                ])
                headers.add(contentsOf: extra)
                if close { headers.add(name: "Connection", value: "close") }
                let response = HTTPResponseHead(
                    version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
                context.write(wrapOutboundOut(.head(response)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                if close {
                    context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                        context.close(promise: nil)
                    }
                } else {
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
            }
        }
    }
}
