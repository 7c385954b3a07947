import Configuration
import FleetCore
import Foundation
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

    public init(_ config: ConfigReader) {
        self.config = config
    }

    public func string(_ key: String, default value: String, secret: Bool = false) -> String {
        config.string(forKey: ConfigKey(key), isSecret: secret) ?? value
    }

    public func optionalString(_ key: String, secret: Bool = false) -> String? {
        guard let value = config.string(forKey: ConfigKey(key), isSecret: secret), !value.isEmpty else { return nil }
        return value
    }

    public func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws(FleetError) -> Int {
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
        config.bool(forKey: ConfigKey(key)) ?? value
    }
}
