/// A simulator failure with a message for the operator. Messages never include tokens,
/// passwords or database URLs.
public struct SimulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, safe to print.
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
