import FleetCore

/// The claims of a Fleetgate access token (API.md "Tokens"): device tokens carry `fleet` and
/// `scope`, operator tokens carry `role`. Nothing secret is ever put here.
public struct AccessClaims: Sendable, Equatable, Codable {
    public var iss: String
    public var sub: String
    public var aud: [String]
    public var iat: Int64
    public var nbf: Int64
    public var exp: Int64
    public var jti: String
    public var fleet: String?
    public var scope: String?
    public var role: String?

    public init(
        iss: String, sub: String, aud: [String], iat: Int64, nbf: Int64, exp: Int64, jti: String,
        fleet: String? = nil, scope: String? = nil, role: String? = nil
    ) {
        self.iss = iss
        self.sub = sub
        self.aud = aud
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
        self.jti = jti
        self.fleet = fleet
        self.scope = scope
        self.role = role
    }

    /// Scopes are space-separated (RFC 8693 §4.2).
    public func hasScope(_ wanted: String) -> Bool {
        guard let scope else { return false }
        return scope.split(separator: " ").contains { $0 == wanted }
    }

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, iat, nbf, exp, jti, fleet, scope, role
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(iss, forKey: .iss)
        try c.encode(sub, forKey: .sub)
        // A single audience is written as a string (RFC 7519 §4.1.3), the common form.
        if aud.count == 1 { try c.encode(aud[0], forKey: .aud) } else { try c.encode(aud, forKey: .aud) }
        try c.encode(iat, forKey: .iat)
        try c.encode(nbf, forKey: .nbf)
        try c.encode(exp, forKey: .exp)
        try c.encode(jti, forKey: .jti)
        try c.encodeIfPresent(fleet, forKey: .fleet)
        try c.encodeIfPresent(scope, forKey: .scope)
        try c.encodeIfPresent(role, forKey: .role)
    }
}

/// Well-known audience, scope and role names.
public enum TokenNames {
    public static let ingestAudience = "fleetgate-ingest"
    public static let adminAudience = "fleetgate-admin"
    public static let telemetryWrite = "telemetry:write"
}

/// Operator roles, most powerful first.
public enum OperatorRole: String, Sendable, Codable, CaseIterable {
    case admin, `operator`, viewer
}
