import NIOCore
import NIOHTTP1
import NIOPosix

/// One `POST /v1/telemetry`: the body and the headers that change from request to request.
struct TelemetryRequest: Sendable {
    var body: ByteBuffer
    var authorization: String
    var idempotencyKey: String
}

/// Keep-alive HTTP/1.1 connections to a plain-HTTP ingest origin, for the telemetry hot path.
///
/// AsyncHTTPClient cost ~60 µs of CPU a batch-1 post here (its pool and request state machines,
/// header and task hops); 25 000 posts a second on one core leave 40 µs for everything, the
/// kernel's share included. This pool does only what the simulator needs, on one event loop:
/// at most `maxConnections` connections, one request in flight on each, an idle connection
/// reused last-in first-out, waiting requests served first-come first-served, a deadline per
/// request counted from submission (as `HTTPClient.execute(_:timeout:)` does), and a new
/// connection when one closes. Every way a request can end is an `AttemptOutcome`.
final class TelemetryConnectionPool: Sendable {
    let eventLoop: any EventLoop
    private let state: NIOLoopBoundBox<PoolState>

    init(
        endpoint: PlainHTTPEndpoint,
        encoding: BodyEncoding,
        maxConnections: Int,
        requestTimeout: Duration,
        connectTimeout: Duration = .seconds(5),
        eventLoop: any EventLoop
    ) {
        self.eventLoop = eventLoop
        let state = PoolState(
            endpoint: endpoint, encoding: encoding, maxConnections: max(1, maxConnections),
            requestTimeout: TimeAmount(requestTimeout), connectTimeout: TimeAmount(connectTimeout),
            eventLoop: eventLoop
        )
        self.state = NIOLoopBoundBox.makeBoxSendingValue(state, eventLoop: eventLoop)
        let bound = self.state
        eventLoop.execute { bound.value.startSweeping() }
    }

    /// Sends one request and waits for its outcome. Cheapest when called on `eventLoop`.
    func post(_ request: TelemetryRequest) async -> AttemptOutcome {
        await withUnsafeContinuation { continuation in
            if eventLoop.inEventLoop {
                state.value.submit(request, .continuation(continuation))
            } else {
                let state = self.state
                eventLoop.execute { state.value.submit(request, .continuation(continuation)) }
            }
        }
    }

    /// Sends one request and calls `completion` with its outcome, on `eventLoop`; must be
    /// called there (`EventLoopPost`: no task, no continuation).
    func submitOnLoop(_ request: TelemetryRequest, completion: @escaping (AttemptOutcome) -> Void) {
        state.value.submit(request, .callback(completion))
    }

    /// Connections open or being opened right now (tests).
    var openConnections: Int {
        get async {
            let state = self.state
            return (try? await eventLoop.submit { state.value.open }.get()) ?? 0
        }
    }

    /// Connections made since the start (tests: keep-alive means one per concurrent request).
    var connectionsMade: Int {
        get async {
            let state = self.state
            return (try? await eventLoop.submit { state.value.connectionsMade }.get()) ?? 0
        }
    }

    /// Fails waiting requests, closes every connection and waits for them to close.
    func shutdown() async {
        let state = self.state
        let closed = eventLoop.flatSubmit { state.value.shutdown() }
        try? await closed.get()
    }
}

/// A request waiting for, or on, a connection.
struct TelemetryWaiter {
    /// Who hears the outcome: an awaiting task, or a callback on the pool's loop.
    enum Completion {
        case continuation(UnsafeContinuation<AttemptOutcome, Never>)
        case callback((AttemptOutcome) -> Void)
    }

    var request: TelemetryRequest
    var completion: Completion
    var deadline: NIODeadline

    /// Hands over the outcome; called exactly once, on the pool's loop.
    func resume(returning outcome: AttemptOutcome) {
        switch completion {
        case .continuation(let continuation): continuation.resume(returning: outcome)
        case .callback(let callback): callback(outcome)
        }
    }
}

/// The pool's state; touched only on its event loop (held in a `NIOLoopBound`).
final class PoolState {
    let endpoint: PlainHTTPEndpoint
    let maxConnections: Int
    let requestTimeout: TimeAmount
    let connectTimeout: TimeAmount
    let eventLoop: any EventLoop
    /// The start of every request, up to the `Authorization` value: request line, Host,
    /// Content-Type and Content-Encoding, built once.
    let requestPrefix: ByteBuffer

    /// Connected and waiting for a request, most recently used last.
    private var idle: [TelemetryConnection] = []
    /// Every connected connection, busy or idle.
    private var live: [TelemetryConnection] = []
    private var waiting = CircularBuffer<TelemetryWaiter>(initialCapacity: 256)
    /// Connected plus connecting.
    private(set) var open = 0
    private var connecting = 0
    private(set) var connectionsMade = 0
    private var sweep: RepeatedTask?
    private var isShutDown = false

    init(
        endpoint: PlainHTTPEndpoint, encoding: BodyEncoding, maxConnections: Int, requestTimeout: TimeAmount,
        connectTimeout: TimeAmount, eventLoop: any EventLoop
    ) {
        self.endpoint = endpoint
        self.maxConnections = maxConnections
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.eventLoop = eventLoop
        var prefix = ByteBuffer()
        prefix.writeString("POST " + endpoint.pathPrefix + "/v1/telemetry HTTP/1.1\r\n")
        prefix.writeString("Host: " + endpoint.hostHeader + "\r\n")
        prefix.writeStaticString("Content-Type: application/senml+json\r\n")
        switch encoding {
        case .deflate: prefix.writeStaticString("Content-Encoding: deflate\r\n")
        case .gzip: prefix.writeStaticString("Content-Encoding: gzip\r\n")
        case .identity: break
        }
        prefix.writeStaticString("Authorization: ")
        self.requestPrefix = prefix
    }

    /// Deadlines are checked by one repeating sweep, a tenth of the timeout apart (1 ms to
    /// 100 ms), rather than by a timer per request: arming and cancelling 25 000 timers a second
    /// costs more than the rest of a request's bookkeeping. A timeout is reported at most that
    /// much late.
    func startSweeping() {
        guard !isShutDown, sweep == nil else { return }
        let interval = TimeAmount.nanoseconds(min(max(requestTimeout.nanoseconds / 10, 1_000_000), 100_000_000))
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        sweep = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.expireDeadlines(now: .now())
        }
    }

    func submit(_ request: TelemetryRequest, _ completion: TelemetryWaiter.Completion) {
        let waiter = TelemetryWaiter(request: request, completion: completion, deadline: .now() + requestTimeout)
        guard !isShutDown else {
            waiter.resume(returning: .connectionError(reason: "cancelled"))
            return
        }
        if let connection = idle.popLast() {
            connection.send(waiter)
            return
        }
        waiting.append(waiter)
        connectIfNeeded()
    }

    /// Opens a connection when requests wait that no connection being opened will take.
    private func connectIfNeeded() {
        guard !isShutDown, connecting < waiting.count, open < maxConnections else { return }
        open += 1
        connecting += 1
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The header values are ours: constants, a base64url token, a [0-9a-z-] key.
                    try channel.pipeline.syncOperations.addHandler(TelemetryConnection(pool: bound.value))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .assumeIsolated()
            .whenFailure { error in bound.value.connectFailed(error) }
    }

    /// A new connection is up (its `channelActive`).
    func connected(_ connection: TelemetryConnection) {
        connecting -= 1
        connectionsMade += 1
        live.append(connection)
        if isShutDown {
            connection.close()
            return
        }
        becameIdle(connection)
    }

    /// Connecting failed: the oldest waiting request hears why (a server that is down must
    /// produce errors the retry logic sees, not requests that wait for their deadline).
    private func connectFailed(_ error: any Error) {
        connecting -= 1
        open -= 1
        if let waiter = waiting.popFirst() {
            waiter.resume(returning: Self.outcome(ofConnectFailure: error))
        }
        connectIfNeeded()
    }

    static func outcome(ofConnectFailure error: any Error) -> AttemptOutcome {
        if let error = error as? ChannelError, case .connectTimeout = error { return .timeout }
        return .connectionError(reason: "connection_error." + String(describing: type(of: error)))
    }

    /// A connection finished its request and stays open: it takes the oldest live waiter.
    func becameIdle(_ connection: TelemetryConnection) {
        let now = NIODeadline.now()
        while let waiter = waiting.popFirst() {
            if waiter.deadline <= now {
                waiter.resume(returning: .timeout)
                continue
            }
            connection.send(waiter)
            return
        }
        idle.append(connection)
    }

    /// A connection closed (its `channelInactive`); its request, if any, was already answered.
    func closed(_ connection: TelemetryConnection) {
        if let index = idle.firstIndex(where: { $0 === connection }) { idle.remove(at: index) }
        if let index = live.firstIndex(where: { $0 === connection }) { live.remove(at: index) }
        open -= 1
        connectIfNeeded()
    }

    /// Times out waiting requests and requests on connections whose deadline has passed; a
    /// connection whose request timed out is closed, since its answer may still come.
    func expireDeadlines(now: NIODeadline) {
        while let first = waiting.first, first.deadline <= now {
            waiting.removeFirst().resume(returning: .timeout)
        }
        // A copy: expiring closes connections, and closing removes them from `live`.
        let connections = live
        for connection in connections { connection.expire(now: now) }
    }

    func shutdown() -> EventLoopFuture<Void> {
        isShutDown = true
        sweep?.cancel()
        sweep = nil
        while let waiter = waiting.popFirst() {
            waiter.resume(returning: .connectionError(reason: "cancelled"))
        }
        let connections = live
        let closing = connections.map { $0.close() }
        return EventLoopFuture.andAllComplete(closing, on: eventLoop)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
