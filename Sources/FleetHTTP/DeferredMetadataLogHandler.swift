import Logging

/// swift-log's `StreamLogHandler` output, with metadata rendered only when a line is written.
///
/// `StreamLogHandler` renders its metadata into a string every time a key is set. Hummingbird sets
/// `hb.request.id` on every request's logger, so each request paid for sorting and formatting
/// metadata that almost never reaches a log line (1.3 % of ingest's CPU at one connection in
/// `perf`). Here a set is a dictionary write; the line is the same as `StreamLogHandler`'s, since
/// the stored metadata is handed to it with the event.
struct DeferredMetadataLogHandler: LogHandler {
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(_ stream: StreamLogHandler) {
        self.stream = stream
    }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard !metadata.isEmpty else { return stream.log(event: event) }
        // StreamLogHandler's precedence: the logger's metadata, then the provider's, then the event's.
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata { merged.merge(explicit) { _, explicit in explicit } }
        var event = event
        event.metadata = merged
        stream.log(event: event)
    }
}
