import FleetCore
import FleetHTTP
import FleetStore
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// Answers `POST /v1/telemetry` on the connection's event loop: the head's checks, the body, SenML
/// and the hand-over to the group-commit writer run here, and the writer's completion comes back to
/// this loop to write the answer. Through the router the same post took three task hops (the
/// connection's request loop, the handler, the writer's resumption) and Hummingbird's per-request
/// async plumbing; `perf` put about half of ingest's CPU there at batch 1 (BENCHMARKS.md).
///
/// Every other request goes on to the router unchanged. Answers leave in request order (HTTP/1.1
/// pipelining): a post that arrives while the router still owes an answer goes to the router too
/// (`TelemetryRoute`, the same steps), and parts that arrive while a post of ours is with the
/// writer wait here, with reading paused, until its answer is written.
final class TelemetryChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let path = "/v1/telemetry"

    /// What the handlers of every connection share.
    struct Shared: Sendable {
        let ingest: TelemetryIngest
        let requestMetrics: RequestMetricsCache
        let date: HTTPDate
        let serverName: String
        let logger: Logger
    }

    private let shared: Shared

    private enum Phase {
        case idle
        /// A request's parts are going on to the router.
        case passing
        /// Our post's body is arriving.
        case reading
        /// Our post is with the writer (or a key refresh); later parts are held.
        case answering
    }

    private var phase = Phase.idle
    /// Requests passed to the router whose answer has not been written to its end.
    private var routerAnswersOwed = 0
    private var post: Post?
    private var held = CircularBuffer<HTTPRequestPart>()
    private var readHeld = false
    private var closed = false

    /// A post being read or answered.
    private struct Post: Sendable {
        let headers: HTTPFields
        let started: ContinuousClock.Instant
        let metrics: RequestMetricsCache.Start
        let closeAfter: Bool
        var enteredInFlight = false
        /// Nil, with no failure, when the token's key must be fetched first.
        var admission: TelemetryIngest.Admission?
        /// The refusal decided so far; the rest of the body is then read and dropped.
        var failure: FleetError?
        var body: ByteBuffer?
    }

    init(shared: Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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
            if phase == .idle, routerAnswersOwed == 0, head.method == .post, Self.isTelemetry(head.path) {
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

    static func isTelemetry(_ target: String?) -> Bool {
        guard let target else { return false }
        if let query = target.utf8.firstIndex(of: UInt8(ascii: "?")) { return target[..<query] == path }
        return target == path
    }

    private func begin(_ head: HTTPRequest) -> Post {
        var post = Post(
            headers: head.headerFields, started: .now, metrics: shared.requestMetrics.begin(method: .post),
            closeAfter: head.headerFields[values: .connection].contains {
                HeaderValue.equals(HeaderValue.trimmed($0), lowercase: "close")
            })
        do throws(FleetError) {
            try shared.ingest.inFlight.enter()
            post.enteredInFlight = true
            post.admission = try shared.ingest.admit(head.headerFields)
        } catch {
            post.failure = error
        }
        return post
    }

    private func append(_ buffer: ByteBuffer) {
        guard post?.failure == nil else { return }
        if post?.body == nil {
            post?.body = buffer
        } else {
            post?.body?.writeImmutableBuffer(buffer)
        }
        if let size = post?.body?.readableBytes, size > shared.ingest.bodyReader.compressedLimit {
            post?.failure = shared.ingest.bodyReader.tooLarge
            post?.body = nil
        }
    }

    private func respond(context: ChannelHandlerContext) {
        guard let post else { return }
        self.post = nil
        if let failure = post.failure {
            answer(post, .failure(failure), context: context)
            return
        }
        let ingest = shared.ingest
        let body = post.body ?? ByteBuffer()
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let context = NIOLoopBound(context, eventLoop: loop)
        if let admission = post.admission {
            let batch: TelemetryBatch
            do throws(FleetError) {
                batch = try ingest.batch(admission, body: body)
            } catch {
                answer(post, .failure(error), context: context.value)
                return
            }
            ingest.writer.submit(batch) { result in
                let answer = result.map { ingest.answer($0, device: admission.device) }
                loop.execute { handler.value.answer(post, answer, context: context.value) }
            }
        } else {
            Task {
                let answer: Result<String, FleetError>
                do throws(FleetError) {
                    answer = .success(try await ingest.commit(ingest.admitRefreshingKeys(post.headers), body: body))
                } catch {
                    answer = .failure(error)
                }
                loop.execute { handler.value.answer(post, answer, context: context.value) }
            }
        }
    }

    /// Writes the answer (unless the connection is gone), settles the post's accounts, then
    /// handles what was held meanwhile.
    private func answer(_ post: Post, _ result: Result<String, FleetError>, context: ChannelHandlerContext) {
        var head: HTTPResponse
        let body: ByteBuffer
        switch result {
        case .success(let json):
            head = HTTPResponse(status: .ok, headerFields: [.contentType: "application/json"])
            body = ByteBuffer(string: json)
        case .failure(let error):
            let error = ProblemResponse.answerable(error, logger: shared.logger)
            shared.ingest.metrics.rejected(error.code)
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
        // On the next loop tick, not nested: an answer given at once inside `handleHeld` would
        // otherwise recurse once per held request.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute { handler.value.handleHeld(context: bound.value) }
    }

    private func settle(_ post: Post, status: HTTPResponse.Status) {
        if post.enteredInFlight { shared.ingest.inFlight.leave() }
        shared.requestMetrics.end(post.metrics, route: Self.path, status: status)
        RequestLog.record(
            method: "POST", path: Self.path, status: status.code, elapsed: .now - post.started, logger: shared.logger)
    }

    private func handleHeld(context: ChannelHandlerContext) {
        guard !closed else { return }
        guard !held.isEmpty else {
            resumeReading(context: context)
            return
        }
        while phase != .answering, let part = held.popFirst() {
            handle(part, context: context)
        }
        // The parts passed on arrived in an earlier read; the async channel delivers on read-complete.
        context.fireChannelReadComplete()
        resumeReading(context: context)
    }

    /// The read held back by `read(context:)`, once neither reason to hold it stands.
    private func resumeReading(context: ChannelHandlerContext) {
        guard readHeld, phase != .answering, context.channel.isWritable else { return }
        readHeld = false
        context.read()
    }

    /// Reading waits while a post is with the writer, and while the client does not read its
    /// answers (the channel is not writable): refusals answered at once must not pile up unread.
    func read(context: ChannelHandlerContext) {
        if phase == .answering || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // max: Hummingbird's answer to a parse error ends a request that never reached it.
        if case .end = unwrapOutboundIn(data) { routerAnswersOwed = max(routerAnswersOwed - 1, 0) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeDown()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeDown()
    }

    /// A post whose body never finished arriving is settled here; one with the writer is settled
    /// when the writer answers (its batch may still commit).
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
