import Configuration
import FleetCore
import Foundation
import Synchronization
import SystemPackage

/// Builds the one configuration reader both services use, in this order of precedence:
/// command-line flag (`--http-port 8080`) > environment (`FLEETGATE_HTTP_PORT`) > JSON config file
/// (`{"http":{"port":8080}}`, from `--config`/`FLEETGATE_CONFIG` or the service's default file) >
/// the default in code.
public enum ConfigLoader {
    /// Keys whose values are never printed, not even in swift-configuration's access log.
    static let secretKeys: Set<String> = [
        "FLEETGATE_DATABASE_URL", "FLEETGATE_KEYS_ENCRYPTION_KEY", "FLEETGATE_ADMIN_PASSWORD",
    ]

    public static func reader(
        arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        defaultFile: String?
    ) async throws -> ConfigReader {
        let cli = CommandLineArgumentsProvider(
            arguments: ["fleetgate"] + arguments,
            secretsSpecifier: .specific(["--database-url", "--keys-encryption-key", "--admin-password"])
        )
        let env = EnvironmentVariablesProvider(
            environmentVariables: environment, secretsSpecifier: .specific(secretKeys)
        ).prefixKeys(with: "fleetgate")
        var providers: [any ConfigProvider] = [cli, env]
        let explicitFile = ConfigReader(providers: [cli, env]).string(forKey: "config")
        if let path = explicitFile ?? defaultFile {
            do {
                providers.append(
                    try await FileProvider<JSONSnapshot>(filePath: FilePath(path), allowMissing: explicitFile == nil)
                )
            } catch {
                throw FleetError(.invalidRequest, "configuration file \(path) could not be read as JSON")
            }
        }
        return ConfigReader(providers: providers)
    }
}

/// Typed, validated reads: a bad setting fails at start with a message naming the key, never its value.
public struct SettingsReader: Sendable {
    public let config: ConfigReader
    /// Every key read, so that flags naming none of them can be refused (`refuseUnknownFlags`).
    private let asked = AskedKeys()

    public init(_ config: ConfigReader) {
        self.config = config
    }

    public func string(_ key: String, default value: String, secret: Bool = false) -> String {
        asked.insert(key)
        return config.string(forKey: ConfigKey(key), isSecret: secret) ?? value
    }

    public func optionalString(_ key: String, secret: Bool = false) -> String? {
        asked.insert(key)
        guard let value = config.string(forKey: ConfigKey(key), isSecret: secret), !value.isEmpty else { return nil }
        return value
    }

    /// Throws for a `--flag` in `arguments` that names no setting read so far (call it after the
    /// whole configuration is loaded). A misspelt flag was ignored before: `--http-prot 9000` ran on
    /// the default port, and `migrate --databse-url …` migrated the default database.
    public func refuseUnknownFlags(in arguments: [String]) throws(FleetError) {
        let known = Set(asked.all.map(Self.flag(for:))).union(["--config"])
        for argument in arguments where argument.hasPrefix("--") {
            let flag = String(argument.prefix { $0 != "=" })
            guard !known.contains(flag) else { continue }
            let near = known.min { Self.distance($0, flag) < Self.distance($1, flag) }
            let hint = near.map { Self.distance($0, flag) <= 3 ? " (did you mean \($0)?)" : "" } ?? ""
            throw FleetError(
                .invalidRequest, "unknown setting \(flag)\(hint); the README's configuration table lists them")
        }
    }

    /// The flag of a key, as swift-configuration's command-line provider spells it:
    /// `http.idleTimeoutSeconds` is `--http-idle-timeout-seconds`.
    public static func flag(for key: String) -> String {
        var flag = "-"
        for character in key {
            if character == "." {
                flag.append("-")
            } else if character.isUppercase {
                flag += "-" + character.lowercased()
            } else {
                flag.append(character)
            }
        }
        return "-" + flag
    }

    /// Edit distance, for the hint.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    public func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws(FleetError) -> Int {
        asked.insert(key)
        let raw = config.string(forKey: ConfigKey(key))
        let parsed: Int
        if let raw {
            guard let number = Int(raw.trimmingCharacters(in: .whitespaces)) else {
                throw FleetError(.invalidRequest, "setting \(key) must be a whole number")
            }
            parsed = number
        } else {
            parsed = config.int(forKey: ConfigKey(key)) ?? value
        }
        guard range.contains(parsed) else {
            throw FleetError(
                .invalidRequest, "setting \(key) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return parsed
    }

    public func bool(_ key: String, default value: Bool) -> Bool {
        asked.insert(key)
        return config.bool(forKey: ConfigKey(key)) ?? value
    }
}

private final class AskedKeys: Sendable {
    private let keys = Mutex<Set<String>>([])

    func insert(_ key: String) {
        _ = keys.withLock { $0.insert(key) }
    }

    var all: Set<String> { keys.withLock { $0 } }
}
