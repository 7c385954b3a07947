import Foundation

/// Runs blocking work (a socket read with a timeout, say) on a thread of its own. On the
/// cooperative pool (`Task.detached`) it would hold one of its few threads: two such reads on a
/// two-core machine stopped every task of the test process, the servers' included, until the
/// reads timed out (seen as a 17 s stall of the whole suite).
public enum BlockingThread {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
