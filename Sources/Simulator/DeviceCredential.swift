import Foundation

/// A device the simulator can act as: its id, fleet and current refresh token.
public struct DeviceCredential: Sendable, Equatable, Codable {
    public var id: String
    public var fleet: String?
    /// Opaque, rotated on every use; the newest one must be kept (API.md, refresh tokens).
    public var refreshToken: String

    public init(id: String, fleet: String?, refreshToken: String) {
        self.id = id
        self.fleet = fleet
        self.refreshToken = refreshToken
    }

    enum CodingKeys: String, CodingKey {
        case id, fleet
        case refreshToken = "refresh_token"
    }
}

/// The credentials file: NDJSON, one `{"id","fleet","refresh_token"}` a line, mode 0600.
public enum CredentialsFile {
    /// Reads every credential; blank lines are skipped, a bad line names its number.
    public static func read(from path: String) throws(SimulatorError) -> [DeviceCredential] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SimulatorError("cannot read credentials file \(path)")
        }
        let decoder = JSONDecoder()
        var credentials: [DeviceCredential] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            do {
                credentials.append(try decoder.decode(DeviceCredential.self, from: Data(line)))
            } catch {
                throw SimulatorError(
                    "credentials file \(path) line \(number + 1) is not {\"id\",\"fleet\",\"refresh_token\"}")
            }
        }
        return credentials
    }

    /// Writes `credentials` with mode 0600, replacing the file atomically.
    public static func write(_ credentials: [DeviceCredential], to path: String) throws(SimulatorError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for credential in credentials {
            do {
                data.append(try encoder.encode(credential))
            } catch {
                throw SimulatorError("cannot encode credentials")
            }
            data.append(UInt8(ascii: "\n"))
        }
        try PrivateFile.write(data, to: path)
    }
}
