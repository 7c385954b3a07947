import HTTPTypes
import Hummingbird
import Synchronization

/// The methods each registered path answers, for 405 `method_not_allowed` with an `Allow` header
/// (RFC 9110 §15.5.6): Hummingbird's router answers 404 for a known path with another method.
/// Filled once from `Router.routes` after every route is registered; read only on a miss.
public final class AllowedMethods: Sendable {
    private let table = Mutex<[(path: RouterPath, methods: [HTTPRequest.Method])]>([])

    public init() {}

    /// Records the routes of `router` (call after the last registration). `headForGet`: the router
    /// answers HEAD for every GET route (`.autoGenerateHeadEndpoints`, added only when it builds
    /// its responder, so `Router.routes` does not list it yet).
    public func load<Context>(from router: Router<Context>, headForGet: Bool) {
        var byPath: [String: (path: RouterPath, methods: [HTTPRequest.Method])] = [:]
        for route in router.routes {
            byPath[route.path.description, default: (route.path, [])].methods.append(route.method)
        }
        if headForGet {
            for (key, entry) in byPath where entry.methods.contains(.get) && !entry.methods.contains(.head) {
                byPath[key]?.methods.append(.head)
            }
        }
        table.withLock { $0 = Array(byPath.values) }
    }

    /// The methods registered for the path the router would pick for `path`, sorted; empty when
    /// none matches. Like the router's trie, a literal component wins over a capture:
    /// `/v1/devices/bulk` is the bulk route (POST), not `/v1/devices/:id`.
    public func methods(for path: String) -> [HTTPRequest.Method] {
        let components = path.split(separator: "/")
        let found = table.withLock { table in
            let matches = table.compactMap { entry -> (literals: Int, methods: [HTTPRequest.Method])? in
                guard entry.path.components.count == components.count,
                    zip(entry.path.components, components).allSatisfy({ $0 ~= $1 })
                else { return nil }
                let literals = zip(entry.path.components, components).count { $0 == $1 }
                return (literals, entry.methods)
            }
            let best = matches.map(\.literals).max()
            return matches.filter { $0.literals == best }.flatMap(\.methods)
        }
        return Array(Set(found)).sorted { $0.rawValue < $1.rawValue }
    }
}
