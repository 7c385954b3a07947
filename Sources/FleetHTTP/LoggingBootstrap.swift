import Logging

/// Process-wide logging for the executables: plain lines on standard error at the configured level.
public enum LoggingBootstrap {
    /// Bootstraps swift-log once and returns the service's logger.
    public static func bootstrap(label: String, level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = DeferredMetadataLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
