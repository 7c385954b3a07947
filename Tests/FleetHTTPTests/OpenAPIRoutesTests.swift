import FleetHTTP
import Foundation
import Hummingbird
import Testing

/// openapi.yaml and the routes the two applications register must be the same set (issue 3).
///
/// The applications build their routers inside `buildProvisioningApplication` and
/// `buildIngestApplication`, which this target cannot reach without a database, so the routes are
/// read from the registration calls in the sources (`router.get("/path", …)`). The reading is
/// checked against Hummingbird's own `Router.routes` for the shared health routes, and the test
/// fails if the sources start registering routes in a way the reading would miss.
@Suite("openapi.yaml matches the registered routes")
struct OpenAPIRoutesTests {
    struct Route: Hashable, Comparable, CustomStringConvertible {
        let method: String
        let path: String

        var description: String { "\(method) \(path)" }

        static func < (lhs: Route, rhs: Route) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
    }

    /// The package root, from this file's path: Tests/FleetHTTPTests/OpenAPIRoutesTests.swift.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Where route registrations live: the shared routes and both applications.
    static let routeDirectories = ["Sources/FleetHTTP", "Sources/Provisioning", "Sources/Ingest"]

    static func read(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    static func swiftFiles(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(directory).path)
            .filter { $0.hasSuffix(".swift") }
            .sorted()
            .map { "\(directory)/\($0)" }
    }

    /// `router.get("/v1/devices/:id", …)` → `GET /v1/devices/{id}`, the form OpenAPI and
    /// Hummingbird's `RouterPath.description` use.
    static func registeredRoutes(in source: String) throws -> Set<Route> {
        let pattern = try Regex(#"router\s*\.\s*(get|post|put|patch|delete|head|options)\s*\(\s*"([^"]*)""#)
        var routes = Set<Route>()
        for match in source.matches(of: pattern) {
            let method = String(match.output[1].substring ?? "").uppercased()
            let path = String(match.output[2].substring ?? "").split(separator: "/").map { component in
                component.hasPrefix(":") ? "{\(component.dropFirst())}" : String(component)
            }
            routes.insert(Route(method: method, path: "/" + path.joined(separator: "/")))
        }
        return routes
    }

    /// The (method, path) pairs under `paths:` in openapi.yaml, read line by line: a path is a
    /// two-space-indented key starting with `/`, an operation a four-space-indented HTTP method.
    static func documentedRoutes(in yaml: String) -> Set<Route> {
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var routes = Set<Route>()
        var inPaths = false
        var currentPath: String?
        for rawLine in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if !line.hasPrefix(" ") {
                inPaths = trimmed == "paths:"
                currentPath = nil
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  "), !line.hasPrefix("   ") {
                let key = line.dropFirst(2).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                currentPath = key.hasPrefix("/") ? String(key.prefix { $0 != ":" && $0 != "\"" && $0 != "'" }) : nil
                continue
            }
            if let currentPath, line.hasPrefix("    "), !line.hasPrefix("     ") {
                let key = line.dropFirst(4).prefix { $0 != ":" }
                if methods.contains(String(key)) {
                    routes.insert(Route(method: key.uppercased(), path: currentPath))
                }
            }
        }
        return routes
    }

    @Test("every registered route is documented and every documented route is registered")
    func sameSet() throws {
        var registered = Set<Route>()
        for directory in Self.routeDirectories {
            for file in try Self.swiftFiles(in: directory) {
                registered.formUnion(try Self.registeredRoutes(in: try Self.read(file)))
            }
        }
        let documented = Self.documentedRoutes(in: try Self.read("openapi.yaml"))

        #expect(registered.count >= 18, "the source reading found too few routes: \(registered.sorted())")
        let undocumented = registered.subtracting(documented).sorted()
        let unregistered = documented.subtracting(registered).sorted()
        #expect(undocumented.isEmpty, "registered but not in openapi.yaml: \(undocumented)")
        #expect(unregistered.isEmpty, "in openapi.yaml but not registered: \(unregistered)")
    }

    @Test("the source reading agrees with Hummingbird's Router.routes for the health routes")
    func readingMatchesRouter() throws {
        let router = Router(context: BasicRequestContext.self)
        HealthRoutes { [:] }.register(on: router)
        let fromRouter = Set(router.routes.map { Route(method: $0.method.rawValue, path: $0.path.description) })
        let fromSource = try Self.registeredRoutes(in: try Self.read("Sources/FleetHTTP/HealthRoutes.swift"))
        #expect(fromRouter == [Route(method: "GET", path: "/healthz"), Route(method: "GET", path: "/readyz")])
        #expect(fromSource == fromRouter)
    }

    @Test("both applications register the shared routes and their own")
    func applicationsRegisterTheirRoutes() throws {
        // The shared routes come from ServiceRouter, which both applications start from.
        let shared = try Self.read("Sources/FleetHTTP/ServiceRouter.swift")
        #expect(shared.contains("HealthRoutes"), "ServiceRouter does not register the health routes")
        #expect(shared.contains("MetricsRoute("), "ServiceRouter does not register /metrics")
        for build in ["Sources/Provisioning/ProvisioningApp+build.swift", "Sources/Ingest/IngestApp+build.swift"] {
            let source = try Self.read(build)
            #expect(source.contains("ServiceRouter.make("), "\(build) does not start from the shared router")
            #expect(source.contains(".register(on: router)"), "\(build) registers no routes")
            #expect(source.contains("ServiceRouter.finish(router)"), "\(build) does not answer 405 for known paths")
        }
    }

    @Test("routes are registered only in the form the source reading understands")
    func noHiddenRegistrations() throws {
        // Groups, `on(_:method:)` and route collections would add paths the reading cannot see.
        let hidden = try Regex(#"\.\s*(group|on|addRoutes)\s*\("#)
        for directory in Self.routeDirectories {
            for file in try Self.swiftFiles(in: directory) {
                let source = try Self.read(file)
                let lines = source.split(separator: "\n").filter { line in
                    line.contains("router") && line.contains(hidden)
                }
                #expect(lines.isEmpty, "\(file) registers routes the reading cannot see: \(lines)")
            }
        }
    }

    @Test("the openapi.yaml reading finds paths, methods and path parameters")
    func yamlReading() {
        let yaml = """
            openapi: 3.1.0
            paths:
              /v1/devices/{id}:
                parameters:
                  - name: id
                get:
                  summary: x
                delete:
                  summary: y
              "/healthz":
                get:
                  responses: {}
            components:
              schemas:
                get:
                  type: object
            """
        #expect(
            Self.documentedRoutes(in: yaml) == [
                Route(method: "GET", path: "/v1/devices/{id}"), Route(method: "DELETE", path: "/v1/devices/{id}"),
                Route(method: "GET", path: "/healthz"),
            ])
    }
}

/// The README's configuration table and the files in config/ follow the settings the services read.
@Suite("README and config/ match the settings the services read")
struct ConfigurationDocumentationTests {
    /// Keys read through `SettingsReader` (`settings.int("http.port", …)`) in a configuration source.
    static func settingKeys(in relativePath: String) throws -> Set<String> {
        let source = try OpenAPIRoutesTests.read(relativePath)
        let pattern = try Regex(#"settings\s*\.\s*(?:int|string|bool|optionalString)\s*\(\s*"([A-Za-z0-9.]+)""#)
        return Set(source.matches(of: pattern).map { String($0.output[1].substring ?? "") })
    }

    /// Dotted keys of a JSON config file: `{"http":{"port":8080}}` → `http.port`.
    static func fileKeys(_ relativePath: String) throws -> Set<String> {
        let data = try Data(contentsOf: OpenAPIRoutesTests.root.appendingPathComponent(relativePath))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func flatten(_ object: [String: Any], prefix: String) -> [String] {
            object.flatMap { key, value -> [String] in
                if let nested = value as? [String: Any] { return flatten(nested, prefix: "\(prefix)\(key).") }
                return ["\(prefix)\(key)"]
            }
        }
        return Set(flatten(object, prefix: ""))
    }

    static let services = [
        ("Sources/Provisioning/ProvisioningConfiguration.swift", "config/provisioning.json"),
        ("Sources/Ingest/IngestConfiguration.swift", "config/ingest.json"),
    ]

    @Test("every setting has a row in the README's configuration table")
    func readmeListsEverySetting() throws {
        let readme = try OpenAPIRoutesTests.read("README.md")
        for (source, _) in Self.services {
            let keys = try Self.settingKeys(in: source)
            #expect(keys.count >= 10, "the source reading found too few settings in \(source)")
            let missing = keys.filter { !readme.contains("| `\($0)` |") }.sorted()
            #expect(missing.isEmpty, "settings of \(source) missing from the README table: \(missing)")
        }
    }

    @Test("every key in a config file is a setting the service reads")
    func configFilesHoldOnlyKnownKeys() throws {
        for (source, file) in Self.services {
            let unknown = try Self.fileKeys(file).subtracting(try Self.settingKeys(in: source)).sorted()
            #expect(unknown.isEmpty, "\(file) has keys \(source) never reads: \(unknown)")
        }
    }
}
