import Logging
import Synchronization

/// Keeps every log event in memory, so tests can read what the service would have logged.
final class LogCapture: Sendable {
    struct Event: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]

        /// Message and metadata as one text, for searching.
        var text: String {
            ([message] + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
        }
    }

    private let store = Mutex<[Event]>([])

    var events: [Event] { store.withLock { $0 } }

    func append(_ event: Event) { store.withLock { $0.append(event) } }

    /// A logger writing into this capture.
    func logger(label: String = "fleetgate.provisioning.test") -> Logger {
        Logger(label: label) { _ in CapturingLogHandler(capture: self) }
    }
}

/// A `LogHandler` that records into a `LogCapture`.
struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        for (key, value) in event.metadata ?? [:] { all[key] = value }
        capture.append(
            LogCapture.Event(
                level: event.level, message: "\(event.message)", metadata: all.mapValues { "\($0)" }))
    }
}
