import FleetCore
import FleetHTTP
import Hummingbird

/// Provisioning reads its bodies as sent: a gzipped bulk manifest would otherwise be read as CSV
/// text and fail line by line, or a gzipped login as bad JSON. Any `Content-Encoding` but
/// `identity` is refused with 415 before a handler reads the body (RFC 9110 §15.5.16).
struct IdentityEncodingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        try IdentityEncoding.check(request.headers[values: .contentEncoding])
        return try await next(request, context)
    }
}

enum IdentityEncoding {
    /// Refuses any `Content-Encoding` value but `identity`.
    static func check(_ values: [String]) throws(FleetError) {
        for value in values {
            for coding in value.split(separator: ",") {
                let name = HeaderValue.trimmed(String(coding))
                guard HeaderValue.equals(name, lowercase: "identity") else {
                    throw FleetError(
                        .unsupportedMediaType, "provisioning takes bodies without Content-Encoding (only identity)")
                }
            }
        }
    }
}
