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

    /// Writes the request: head, body and end in one flush (one `writev`).
    func send(_ waiter: TelemetryWaiter) {
        guard let context else {
            waiter.continuation.resume(returning: .connectionError(reason: "connection_closed"))
            return
        }
        inFlight = waiter
        status = 0
        keepAlive = true
        answerTooLong = false
        answer.clear()
        var headers = pool.baseHeaders
        headers.add(name: "Authorization", value: waiter.request.authorization)
        headers.add(name: "Idempotency-Key", value: waiter.request.idempotencyKey)
        headers.add(name: "Content-Length", value: String(waiter.request.body.readableBytes))
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: pool.uri, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(waiter.request.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
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
            pool.becameIdle(self)
        } else {
            context.close(promise: nil)
        }
        waiter.continuation.resume(returning: outcome)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil { failure = "connection_error." + String(describing: type(of: error)) }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let waiter = inFlight {
            inFlight = nil
            waiter.continuation.resume(returning: .connectionError(reason: failure ?? "connection_closed"))
        }
        pool.closed(self)
        context.fireChannelInactive()
    }

    /// Times the request out if its deadline has passed, and closes the connection: its answer
    /// may still come and would be taken for the next request's.
    func expire(now: NIODeadline) {
        guard let waiter = inFlight, waiter.deadline <= now else { return }
        inFlight = nil
        waiter.continuation.resume(returning: .timeout)
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
