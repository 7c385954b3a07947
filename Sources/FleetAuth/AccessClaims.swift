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
    /// Checked on every post, so it compares contiguous bytes instead of walking `Substring` views.
    public func hasScope(_ wanted: String) -> Bool {
        guard var scope else { return false }
        var wanted = wanted
        return scope.withUTF8 { scope in
            wanted.withUTF8 { wanted in
                var start = 0
                while start <= scope.count {
                    var end = start
                    while end < scope.count, scope[end] != UInt8(ascii: " ") { end += 1 }
                    if end - start == wanted.count,
                        wanted.indices.allSatisfy({ scope[start + $0] == wanted[$0] })
                    {
                        return true
                    }
                    start = end + 1
                }
                return false
            }
        }
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

extension AccessClaims {
    /// The claims as compact JSON with sorted keys, byte for byte what `JSONEncoder` with
    /// `.sortedKeys, .withoutEscapingSlashes` writes (a test checks it), at a fraction of the cost:
    /// every `POST /v1/token` signs one.
    public var json: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        func key(_ name: StaticString) {
            out.append(out.isEmpty ? UInt8(ascii: "{") : UInt8(ascii: ","))
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONStringWriter.append(value, to: &out)
        }
        func number(_ name: StaticString, _ value: Int64) {
            key(name)
            out.append(contentsOf: String(value).utf8)
        }
        if aud.count == 1 {
            string("aud", aud[0])
        } else {
            key("aud")
            out.append(UInt8(ascii: "["))
            for (index, audience) in aud.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONStringWriter.append(audience, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        number("exp", exp)
        string("fleet", fleet)
        number("iat", iat)
        string("iss", iss)
        string("jti", jti)
        number("nbf", nbf)
        string("role", role)
        string("scope", scope)
        string("sub", sub)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
