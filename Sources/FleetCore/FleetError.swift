/// The one error type of Fleetgate: a contract `code` (API.md), its HTTP status and a detail that is
/// safe to show to the caller. It never carries a token, a secret, SQL or a stack trace.
public struct FleetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable, machine-readable error code from the wire contract.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        /// The HTTP status this code is answered with.
        public let status: Int
        /// A short human title for the problem document.
        public let title: String

        public init?(rawValue: String) {
            guard let known = Self.all.first(where: { $0.rawValue == rawValue }) else { return nil }
            self = known
        }

        private init(_ rawValue: String, _ status: Int, _ title: String) {
            self.rawValue = rawValue
            self.status = status
            self.title = title
        }

        public var description: String { rawValue }

        public static func == (lhs: Code, rhs: Code) -> Bool { lhs.rawValue == rhs.rawValue }
        public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

        public static let tokenMissing = Code("token_missing", 401, "Token missing")
        public static let tokenMalformed = Code("token_malformed", 401, "Token malformed")
        public static let algNotAllowed = Code("alg_not_allowed", 401, "Algorithm not allowed")
        public static let tokenUnknownKey = Code("token_unknown_key", 401, "Unknown signing key")
        public static let tokenBadSignature = Code("token_bad_signature", 401, "Bad token signature")
        public static let tokenExpired = Code("token_expired", 401, "Token expired")
        public static let tokenNotYetValid = Code("token_not_yet_valid", 401, "Token not yet valid")
        public static let tokenWrongAudience = Code("token_wrong_audience", 401, "Wrong token audience")
        public static let tokenWrongIssuer = Code("token_wrong_issuer", 401, "Wrong token issuer")
        public static let tokenRevoked = Code("token_revoked", 401, "Token revoked")
        public static let invalidCredentials = Code("invalid_credentials", 401, "Invalid credentials")
        public static let invalidRefreshToken = Code("invalid_refresh_token", 401, "Invalid refresh token")
        public static let refreshTokenReused = Code("refresh_token_reused", 401, "Refresh token reused")
        public static let insufficientScope = Code("insufficient_scope", 403, "Insufficient scope")
        public static let unsupportedMediaType = Code("unsupported_media_type", 415, "Unsupported media type")
        public static let payloadTooLarge = Code("payload_too_large", 413, "Payload too large")
        public static let inflatedTooLarge = Code("inflated_too_large", 413, "Inflated payload too large")
        public static let badPayload = Code("bad_payload", 400, "Bad payload")
        public static let badTimestamp = Code("bad_timestamp", 422, "Timestamp out of range")
        public static let tooManyRecords = Code("too_many_records", 413, "Too many records")
        public static let rateLimited = Code("rate_limited", 429, "Rate limited")
        public static let overloaded = Code("overloaded", 503, "Overloaded")
        public static let notFound = Code("not_found", 404, "Not found")
        public static let conflict = Code("conflict", 409, "Conflict")
        public static let invalidRequest = Code("invalid_request", 400, "Invalid request")
        public static let methodNotAllowed = Code("method_not_allowed", 405, "Method not allowed")
        public static let internalError = Code("internal_error", 500, "Internal error")

        /// Every code, for look-ups and for tests that walk the whole table.
        public static let all: [Code] = [
            .tokenMissing, .tokenMalformed, .algNotAllowed, .tokenUnknownKey, .tokenBadSignature,
            .tokenExpired, .tokenNotYetValid, .tokenWrongAudience, .tokenWrongIssuer, .tokenRevoked,
            .invalidCredentials, .invalidRefreshToken, .refreshTokenReused, .insufficientScope,
            .unsupportedMediaType, .payloadTooLarge, .inflatedTooLarge, .badPayload, .badTimestamp,
            .tooManyRecords, .rateLimited, .overloaded, .notFound, .conflict, .invalidRequest,
            .methodNotAllowed, .internalError,
        ]
    }

    /// The contract code.
    public let code: Code
    /// A detail safe to return to the caller.
    public let detail: String
    /// Seconds to wait before retrying (429 and 503 answers).
    public let retryAfter: Int?
    /// The methods the path answers (405 answers' `Allow` header).
    public let allow: [String]?

    public init(_ code: Code, _ detail: String, retryAfter: Int? = nil, allow: [String]? = nil) {
        self.code = code
        self.detail = detail
        self.retryAfter = retryAfter
        self.allow = allow
    }

    public var status: Int { code.status }
    public var description: String { "\(code.rawValue): \(detail)" }
}
