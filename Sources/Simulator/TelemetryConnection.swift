import Foundation
import NIOCore
import NIOHTTP1

/// One keep-alive connection of a `TelemetryConnectionPool`, alone in its pipeline: it writes
/// one request as finished bytes (no `HTTPHeaders` to build and encode per request, ~6 % of the
/// simulator's CPU at 25 000 posts a second), frames its answer with `TelemetryResponseParser`
/// into an `AttemptOutcome`, and hands itself back to the pool. Lives on the pool's event loop.
final class TelemetryConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Answers are small (`{"accepted":N}` or a problem); a longer one is a broken server.
    static let answerLimit = 1 << 16

    private let pool: PoolState
    private var context: ChannelHandlerContext?
    /// The request on the wire, until its answer ends, it times out, or the connection closes.
    private var inFlight: TelemetryWaiter?
    /// Bytes of the answer read so far.
    private var received = ByteBuffer()
    private var request = ByteBuffer()
    /// Its answer is in and the connection stays open: hand it back when this read ends.
    private var answered = false
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

    /// Writes the request as finished bytes, head and body in one buffer and one `write`.
    func send(_ waiter: TelemetryWaiter) {
        guard let context else {
            waiter.resume(returning: .connectionError(reason: "connection_closed"))
            return
        }
        inFlight = waiter
        // Bytes that came with no request outstanding are no answer to this one.
        received.clear()
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
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard inFlight != nil else { return }
        if received.readableBytes == 0 {
            received = bytes
        } else {
            received.writeBuffer(&bytes)
        }
        parse(context: context, closed: false)
    }

    private func parse(context: ChannelHandlerContext, closed: Bool) {
        switch TelemetryResponseParser.parse(&received, limit: Self.answerLimit, closed: closed) {
        case .needMore:
            if closed { fail(with: .connectionError(reason: failure ?? "connection_closed")) }
        case .answer(let answer):
            // Let go of the read buffer, so the channel's allocator can reuse it.
            received = ByteBuffer()
            finish(answer, context: context)
        case .invalid:
            failure = failure ?? "connection_error.HTTPParserError"
            fail(with: .connectionError(reason: failure!))
            context.close(promise: nil)
        case .tooLong:
            // As AsyncHTTPClient's `collect(upTo:)` would have failed it.
            fail(with: .connectionError(reason: "connection_error.NIOTooManyBytesError"))
            context.close(promise: nil)
        }
    }

    private func fail(with outcome: AttemptOutcome) {
        received = ByteBuffer()
        guard let waiter = inFlight else { return }
        inFlight = nil
        waiter.resume(returning: outcome)
    }

    private func finish(_ answer: TelemetryResponseParser.Answer, context: ChannelHandlerContext) {
        guard let waiter = inFlight else { return }
        inFlight = nil
        let outcome: AttemptOutcome
        if answer.status == 200 {
            outcome = FleetgateClient.acceptance(answer.body)
        } else {
            let problem = FleetgateClient.problem(
                status: answer.status, body: Data(answer.body.readableBytesView), headers: answer.headers)
            outcome = .problem(status: answer.status, code: problem.code, retryAfter: problem.retryAfter)
        }
        if answer.keepAlive {
            // Taken back at `channelReadComplete`, once this read has been handled.
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
        // An answer without a length ends with the connection (RFC 9112 §6.3).
        if inFlight != nil, received.readableBytes > 0 { parse(context: context, closed: true) }
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
