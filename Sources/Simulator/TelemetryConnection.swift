import Foundation
import NIOCore
import NIOHTTP1

/// One keep-alive connection of a `TelemetryConnectionPool`, at the end of an HTTP/1.1 client
/// pipeline: it writes one request, reads its answer into an `AttemptOutcome`, and hands
/// itself back to the pool. Lives on the pool's event loop.
final class TelemetryConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// Answers are small (`{"accepted":N}` or a problem); a longer one is a broken server.
    static let answerLimit = 1 << 16

    private let pool: PoolState
    private var context: ChannelHandlerContext?
    /// The request on the wire, until its answer ends, it times out, or the connection closes.
    private var inFlight: TelemetryWaiter?
    private var status = 0
    private var headers = HTTPHeaders()
    private var keepAlive = true
    private var answer = ByteBuffer()
    private var request = ByteBuffer()
    /// Its answer is in and the connection stays open: hand it back when this read ends.
    private var answered = false
    private var answerTooLong = false
    /// Why the connection is closing, for the request that is cut off.
    private var failure: String?

    init(pool: PoolState) {
        self.pool = pool
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        pool.connected(self)
        context.fireChannelActive()
    }

    /// Tells the response decoder a POST is out (it must know the method to frame the
    /// answer); `RawRequestEncoder` drops it. Shared, so a request allocates no head.
    static let decoderHead = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/telemetry")

    /// Writes the request as finished bytes, head and body in one buffer and one `write`.
    func send(_ waiter: TelemetryWaiter) {
        guard let context else {
            waiter.resume(returning: .connectionError(reason: "connection_closed"))
            return
        }
        inFlight = waiter
        status = 0
        keepAlive = true
        answerTooLong = false
        answer.clear()
        // Reused: the previous request was written out before its answer came, so this
        // buffer is uniquely held again and `clear()` keeps its storage.
        request.clear()
        request.writeImmutableBuffer(pool.requestPrefix)
        request.writeString(waiter.request.authorization)
        request.writeStaticString("\r\nIdempotency-Key: ")
        request.writeString(waiter.request.idempotencyKey)
        request.writeStaticString("\r\nContent-Length: ")
        request.writeString(String(waiter.request.body.readableBytes))
        request.writeStaticString("\r\n\r\n")
        request.writeImmutableBuffer(waiter.request.body)
        context.write(wrapOutboundOut(.head(Self.decoderHead)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(request))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            keepAlive = head.isKeepAlive
            headers = status == 200 ? HTTPHeaders() : head.headers
        case .body(var part):
            if answer.readableBytes + part.readableBytes > Self.answerLimit {
                answerTooLong = true
            } else if !answerTooLong {
                answer.writeBuffer(&part)
            }
        case .end:
            finish(context: context)
        }
    }

    private func finish(context: ChannelHandlerContext) {
        guard let waiter = inFlight else { return }
        inFlight = nil
        let outcome: AttemptOutcome
        if answerTooLong {
            // As AsyncHTTPClient's `collect(upTo:)` would have failed it.
            outcome = .connectionError(reason: "connection_error.NIOTooManyBytesError")
        } else if status == 200 {
            outcome = FleetgateClient.acceptance(answer)
        } else {
            let problem = FleetgateClient.problem(
                status: status, body: Data(answer.readableBytesView), headers: headers)
            outcome = .problem(status: status, code: problem.code, retryAfter: problem.retryAfter)
        }
        if keepAlive && !answerTooLong {
            // Taken back at `channelReadComplete`: a request written from inside the decoder
            // is queued by ByteToMessageHandler and replayed after decoding (3 % of the CPU).
            answered = true
        } else {
            context.close(promise: nil)
        }
        waiter.resume(returning: outcome)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if answered, context.channel.isActive {
            answered = false
            pool.becameIdle(self)
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil { failure = "connection_error." + String(describing: type(of: error)) }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let waiter = inFlight {
            inFlight = nil
            waiter.resume(returning: .connectionError(reason: failure ?? "connection_closed"))
        }
        pool.closed(self)
        context.fireChannelInactive()
    }

    /// Times the request out if its deadline has passed, and closes the connection: its answer
    /// may still come and would be taken for the next request's.
    func expire(now: NIODeadline) {
        guard let waiter = inFlight, waiter.deadline <= now else { return }
        inFlight = nil
        waiter.resume(returning: .timeout)
        context?.close(promise: nil)
    }

    /// Closes the connection; the future completes when it is closed.
    @discardableResult
    func close() -> EventLoopFuture<Void> {
        guard let context else { return pool.eventLoop.makeSucceededVoidFuture() }
        let promise = pool.eventLoop.makePromise(of: Void.self)
        context.close(promise: promise)
        return promise.futureResult.recover { _ in }
    }
}

/// In place of `HTTPRequestEncoder`: a `TelemetryConnection` writes each request as finished
/// bytes in one body part, so there are no `HTTPHeaders` to build and encode per request
/// (~6 % of the simulator's CPU at 25 000 posts a second). The head part is only for the
/// response decoder, which watches writes to learn the request method.
final class RawRequestEncoder: ChannelOutboundHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = IOData

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head, .end:
            promise?.succeed(())
        case .body(let bytes):
            context.write(wrapOutboundOut(bytes), promise: promise)
        }
    }
}
