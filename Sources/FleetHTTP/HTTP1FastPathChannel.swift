import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1.1 child channel (`HTTP1Channel` of 2.28) with the service's own handlers
/// placed after the connection-state handler, where Hummingbird's `additionalChannelHandlers`
/// cannot go. A handler there may answer some requests itself, on the event loop: the state
/// handler still sees those requests and their answers, so the idle timeout and graceful shutdown
/// (finish what is in flight, then close) treat them like the router's.
public struct HTTP1FastPathChannel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    let idleTimeout: TimeAmount?
    let handlers: @Sendable () -> [any RemovableChannelHandler]

    public init(
        responder: @escaping HTTPChannelHandler.Responder, idleTimeout: TimeAmount?,
        handlers: @escaping @Sendable () -> [any RemovableChannelHandler]
    ) {
        self.responder = responder
        self.idleTimeout = idleTimeout
        self.handlers = handlers
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            // Hummingbird's header limits (80 KiB a field and in all, 1 000 fields), not NIO's
            // (65 534 fields).
            let defaults = HTTP1Channel.Configuration.DecoderConfiguration()
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = defaults.maxHeaderFieldSize
            limits.maxHeaderListSize = defaults.maxHeaderListSize
            limits.maxHeaderFieldCount = defaults.maxHeaderFieldCount
            // As HTTP1Channel: pipelining is ordered by the async channel (and by our handlers).
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(
                HTTPConnectionStateHandler(idleTimeout: idleTimeout.map { Duration($0) }, logger: logger))
            try pipeline.addHandlers(handlers())
            return try NIOAsyncChannel(
                wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with `handlers` after the connection-state handler (see `HTTP1FastPathChannel`).
    public static func http1(
        idleTimeout: TimeAmount?, handlers: @escaping @Sendable () -> [any RemovableChannelHandler]
    ) -> HTTPServerBuilder {
        .init { responder in HTTP1FastPathChannel(responder: responder, idleTimeout: idleTimeout, handlers: handlers) }
    }
}
