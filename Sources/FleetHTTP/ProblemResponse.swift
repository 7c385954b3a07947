import FleetCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Renders a `FleetError` as an RFC 9457 problem document with the contract's extra headers.
public enum ProblemResponse {
    public static let contentType = "application/problem+json"

    public static func make(_ error: FleetError) -> Response {
        let (head, body) = parts(error)
        return Response(status: head.status, headers: head.headerFields, body: ResponseBody(byteBuffer: body))
    }

    /// The answer's head and body, for a responder that writes HTTP parts itself.
    public static func parts(_ error: FleetError) -> (HTTPResponse, ByteBuffer) {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        if error.status == 401 {
            // RFC 6750 §3: plain `Bearer` when no token was sent (none is, with a password),
            // `invalid_token` otherwise.
            headers[.wwwAuthenticate] =
                error.code == .tokenMissing || error.code == .invalidCredentials
                ? "Bearer"
                : #"Bearer error="invalid_token""#
        }
        if error.code == .insufficientScope {
            headers[.wwwAuthenticate] = #"Bearer error="insufficient_scope""#
        }
        if error.status == 429 || error.status == 503 {
            headers[.retryAfter] = String(error.retryAfter ?? 1)
        }
        if let allow = error.allow {
            headers[.allow] = allow.joined(separator: ", ")
        }
        var body = ByteBuffer()
        body.writeString(#"{"type":"about:blank","title":"#)
        writeJSONString(error.code.title, to: &body)
        body.writeString(#","status":\#(error.status),"code":"\#(error.code.rawValue)","detail":"#)
        writeJSONString(error.detail, to: &body)
        body.writeString("}")
        return (HTTPResponse(status: HTTPResponse.Status(code: error.status), headerFields: headers), body)
    }

    /// The error as it may be answered: an `internal_error`'s detail is for the log only.
    public static func answerable(_ error: FleetError, logger: Logger) -> FleetError {
        guard error.code == .internalError else { return error }
        logger.error("internal error", metadata: ["detail": "\(error.detail)"])
        return FleetError(.internalError, "internal error")
    }

    /// JSON string escaping (RFC 8259 §7).
    public static func writeJSONString(_ text: String, to buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        JSONStringWriter.append(text, to: &bytes)
        buffer.writeBytes(bytes)
    }
}
