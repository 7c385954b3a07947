import FleetCore
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// What the fast-path handlers of every connection of one server share.
public struct FastPathShared: Sendable {
    let requestMetrics: RequestMetricsCache
    let date: HTTPDate
    let serverName: String
    let logger: Logger

    public init(requestMetrics: RequestMetricsCache, date: HTTPDate, serverName: String, logger: Logger) {
        self.requestMetrics = requestMetrics
        self.date = date
        self.serverName = serverName
        self.logger = logger
    }
}

/// Answers `POST` to a route's path on the connection's event loop (see `FastPathRoute`), placed after
/// Hummingbird's connection-state handler (`HTTP1FastPathChannel`). Through the router the same
/// request took task hops (the connection's request loop, the handler, each resumption) and
/// Hummingbird's per-request async plumbing; `perf` put about half of ingest's CPU there at
/// batch 1 (BENCHMARKS.md).
///
/// Every other request goes on to the router unchanged. Answers leave in request order (HTTP/1.1
/// pipelining): a request for the route that arrives while the router still owes an answer goes to
/// the router too (which must then serve the route as well), and parts that arrive while one of
/// ours is being answered wait here, with reading paused, until its answer is written.
public final class FastPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private let route: any FastPathRoute
    private let path: String
    private let bodyLimit: Int
    private let tooLarge: FleetError
    private let shared: FastPathShared

    private enum Phase {
        case idle
        /// A request's parts are going on to the router.
        case passing
        /// Our request's body is arriving.
        case reading
        /// Our request is being answered; later parts are held.
        case answering
    }

    private var phase = Phase.idle
    /// Requests passed to the router whose answer has not been written to its end.
    private var routerAnswersOwed = 0
    private var post: Post?
    private var held = CircularBuffer<HTTPRequestPart>()
    private var readHeld = false
    /// True while `route.respond` runs.
    private var responding = false
    /// The client half-closed (sent all it will) while our answer was owed: passed on after it.
    private var inputClosedHeld = false
    private var closed = false

    /// A request of ours being read or answered.
    private struct Post: Sendable {
        let started: ContinuousClock.Instant
        let metrics: RequestMetricsCache.Start
        let closeAfter: Bool
        /// Nil when the head was refused (`failure`).
        var exchange: (any FastPathExchange)?
        /// The refusal decided so far; the rest of the body is then read and dropped.
        var failure: FleetError?
        var body: ByteBuffer?

        mutating func append(_ buffer: ByteBuffer, limit: Int, tooLarge: FleetError) {
            guard failure == nil else { return }
            if body == nil {
                body = buffer
            } else {
                body!.writeImmutableBuffer(buffer)
            }
            if body!.readableBytes > limit {
                failure = tooLarge
                body = nil
            }
        }
    }

    public init(route: any FastPathRoute, shared: FastPathShared) {
        self.route = route
        path = type(of: route).path
        bodyLimit = route.bodyLimit
        tooLarge = route.tooLarge
        self.shared = shared
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        // After an answer with `Connection: close` nothing more is read (Hummingbird stops too).
        guard !closed else { return }
        // Behind parts still held, so that order is kept until `handleHeld` has run.
        if phase == .answering || !held.isEmpty {
            held.append(part)
        } else {
            handle(part, context: context)
        }
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            if phase == .idle, routerAnswersOwed == 0, head.method == .post, Self.isRoute(head.path, path) {
                post = begin(head)
                phase = .reading
            } else {
                routerAnswersOwed += 1
                phase = .passing
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .body(let buffer):
            if phase == .reading {
                append(buffer)
            } else {
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .end:
            if phase == .reading {
                phase = .answering
                respond(context: context)
            } else {
                phase = .idle
                context.fireChannelRead(wrapInboundOut(part))
            }
        }
    }

    static func isRoute(_ target: String?, _ path: String) -> Bool {
        guard let target else { return false }
        if let query = target.utf8.firstIndex(of: UInt8(ascii: "?")) { return target[..<query] == path }
        return target == path
    }

    private func begin(_ head: HTTPRequest) -> Post {
        var post = Post(
            started: .now, metrics: shared.requestMetrics.begin(method: .post),
            closeAfter: head.headerFields[values: .connection].contains {
                HeaderValue.equals(HeaderValue.trimmed($0), lowercase: "close")
            })
        do throws(FleetError) {
            post.exchange = try route.begin(head)
        } catch {
            post.failure = error
        }
        return post
    }

    private func append(_ buffer: ByteBuffer) {
        post?.append(buffer, limit: bodyLimit, tooLarge: tooLarge)
    }

    private func respond(context: ChannelHandlerContext) {
        guard var post else { return }
        self.post = nil
        guard let exchange = post.exchange, post.failure == nil else {
            // `begin` gave an exchange or a refusal; a body past the limit is refused after it.
            answer(post, .failure(post.failure!), context: context)
            return
        }
        // The answer's closure keeps `post`, not the body.
        let body = post.body ?? ByteBuffer()
        post.body = nil
        let answered = post
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let context = NIOLoopBound(context, eventLoop: loop)
        // A refusal decided inside `respond` is answered at once; an answer that comes later (a
        // commit, an exchange) waits for the loop's next turn, even when it comes on this loop: the
        // thread that brings it (a writer worker) has others to resume before sockets are written.
        responding = true
        exchange.respond(body: body, on: loop) { result in
            if loop.inEventLoop, handler.value.responding {
                handler.value.answer(answered, result, context: context.value)
            } else {
                loop.execute { handler.value.answer(answered, result, context: context.value) }
            }
        }
        responding = false
    }

    /// Writes the answer (unless the connection is gone), settles the post's accounts, then
    /// handles what was held meanwhile.
    private func answer(
        _ post: Post, _ result: Result<FastPathAnswer, FleetError>, context: ChannelHandlerContext
    ) {
        var head: HTTPResponse
        let body: ByteBuffer
        switch result {
        case .success(let answer):
            head = HTTPResponse(status: .ok, headerFields: answer.headers)
            body = answer.body
        case .failure(let error):
            let error = ProblemResponse.answerable(error, logger: shared.logger)
            route.refused(error)
            (head, body) = ProblemResponse.parts(error)
        }
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[.date] = shared.date.now
        head.headerFields[.server] = shared.serverName
        settle(post, status: head.status)
        phase = .idle
        guard !closed else { return }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        if post.closeAfter {
            closed = true
            held.removeAll()
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        // Nothing held, nothing to recurse into: at once.
        guard !held.isEmpty else { return handleHeld(context: context) }
        // On the next loop tick, not nested: an answer given at once inside `handleHeld` would
        // otherwise recurse once per held request.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute { handler.value.handleHeld(context: bound.value) }
    }

    private func settle(_ post: Post, status: HTTPResponse.Status) {
        post.exchange?.finish()
        shared.requestMetrics.end(post.metrics, route: path, status: status)
        RequestLog.record(
            method: "POST", path: path, status: status.code, elapsed: .now - post.started, logger: shared.logger)
    }

    private func handleHeld(context: ChannelHandlerContext) {
        guard !closed else { return }
        guard !held.isEmpty else {
            resumeReading(context: context)
            releaseInputClosed(context: context)
            return
        }
        while phase != .answering, let part = held.popFirst() {
            handle(part, context: context)
        }
        // The parts passed on arrived in an earlier read; the async channel delivers on read-complete.
        context.fireChannelReadComplete()
        resumeReading(context: context)
        releaseInputClosed(context: context)
    }

    /// A client that half-closes right after its request (`shutdown(SHUT_WR)`) still reads the
    /// answer. Passed on at once, the end of input would end Hummingbird's request loop, which
    /// closes the connection before our answer is written: the batch stored, its answer lost, and
    /// a retry without an Idempotency-Key stored twice. So it waits behind our answer and behind
    /// what was held, like a request part.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent, phase == .answering || !held.isEmpty {
            inputClosedHeld = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func releaseInputClosed(context: ChannelHandlerContext) {
        guard inputClosedHeld, phase != .answering, held.isEmpty else { return }
        inputClosedHeld = false
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    /// The read held back by `read(context:)`, once neither reason to hold it stands.
    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, phase != .answering, context.channel.isWritable else { return }
        readHeld = false
        context.read()
    }

    /// Reading waits while a request of ours is being answered, and while the client does not read its
    /// answers (the channel is not writable): refusals answered at once must not pile up unread.
    public func read(context: ChannelHandlerContext) {
        if phase == .answering || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // max: Hummingbird's answer to a parse error ends a request that never reached it.
        if case .end = unwrapOutboundIn(data) { routerAnswersOwed = max(routerAnswersOwed - 1, 0) }
        context.write(data, promise: promise)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closeDown()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        closeDown()
    }

    /// A request whose body never finished arriving is settled here; one being answered is settled
    /// when its answer comes (its work, a batch with the writer say, may still complete).
    private func closeDown() {
        closed = true
        held.removeAll()
        if phase == .reading, let post {
            self.post = nil
            phase = .idle
            settle(post, status: .badRequest)
        }
    }
}
