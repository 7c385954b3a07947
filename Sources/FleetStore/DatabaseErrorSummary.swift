import PostgresNIO

/// What a log line may say about a database error: postgres-nio's code, and PostgreSQL's SQLSTATE
/// and message. Not `String(reflecting:)`, which also prints the server's detail (for a unique
/// violation, the key: a refresh token's hash) and the query.
public enum DatabaseErrorSummary {
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: type(of: error)) }
        var text = "PSQLError(\(error.code)"
        if let state = error.serverInfo?[.sqlState] { text += ", sqlState: \(state)" }
        if let message = error.serverInfo?[.message] { text += ", message: \(message.prefix(200))" }
        return text + ")"
    }
}
