import FleetCore

/// Extracts the token from `Authorization` header values (RFC 6750 §2.1): exactly one header,
/// scheme `Bearer` matched without regard to case (RFC 7235 §2.1), one space, then the token.
public enum BearerToken {
    public static func extract(from authorizationValues: [String]) throws(FleetError) -> String {
        guard let value = authorizationValues.first else {
            throw FleetError(.tokenMissing, "send Authorization: Bearer <token>")
        }
        guard authorizationValues.count == 1 else {
            throw FleetError(.tokenMalformed, "exactly one Authorization header is allowed")
        }
        let scheme = value.prefix { $0 != " " }
        guard scheme.lowercased() == "bearer" else {
            throw FleetError(.tokenMalformed, "the Authorization scheme must be Bearer")
        }
        let token = value.dropFirst(scheme.count + 1)
        guard value.count > scheme.count + 1, !token.isEmpty, !token.contains(" "), !token.contains("\t") else {
            throw FleetError(.tokenMalformed, "Authorization must be Bearer followed by one space and the token")
        }
        return String(token)
    }
}
