import Foundation

/// A plain `http://host[:port][/prefix]` origin, split for a raw HTTP/1.1 client.
struct PlainHTTPEndpoint: Sendable, Equatable {
    /// Host to connect to (an IPv6 literal without its brackets).
    var host: String
    var port: Int
    /// The `Host` header: host, bracketed when IPv6, and the port unless it is 80 (RFC 9110 §7.2).
    var hostHeader: String
    /// Path prefix without a trailing slash ("" or "/ingest").
    var pathPrefix: String

    /// Nil for anything but `http` with a host, no user info, query or fragment: those stay
    /// with AsyncHTTPClient (https, http+unix).
    init?(_ url: String) {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "http",
            var host = components.host, !host.isEmpty, components.user == nil, components.password == nil,
            components.query == nil, components.fragment == nil
        else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? 80
        guard (1...65_535).contains(port) else { return nil }
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        if !path.isEmpty, !path.hasPrefix("/") { return nil }
        self.host = host
        self.port = port
        let bracketed = host.contains(":") ? "[" + host + "]" : host
        self.hostHeader = port == 80 ? bracketed : bracketed + ":" + String(port)
        self.pathPrefix = path
    }
}
