import AsyncHTTPClient
import Logging

/// Options of `enroll`: who logs in, where, and which devices to create.
public struct EnrollmentOptions: Sendable, Equatable {
    public var provisioningURL = "http://127.0.0.1:8081"
    public var operatorLogin: SimulationOptions.Operator
    public var devices: Int
    public var fleet = "simulated"
    public var idPrefix = "sim"
    /// Lines per bulk request; the provisioning service streams its answer, but one huge body
    /// would still be held by the client, so it is sent in chunks.
    public var chunkSize = 1_000
    public var requestTimeout: Duration = .seconds(30)

    public init(operatorLogin: SimulationOptions.Operator, devices: Int) {
        self.operatorLogin = operatorLogin
        self.devices = devices
    }

    /// The id of device `number` (1-based): "<prefix>-000001"; wider when the fleet needs it.
    public func deviceID(_ number: Int) -> String {
        let digits = max(6, String(devices).count)
        let text = String(number)
        return idPrefix + "-" + String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// Logs in and bulk-enrolls a fleet, returning a credential per device. Devices that exist
/// already (`conflict`) get fresh credentials instead, so `enroll` can be run again.
public func enrollDevices(_ options: EnrollmentOptions, logger: Logger) async throws -> [DeviceCredential] {
    let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, backgroundActivityLogger: logger)
    do {
        let client = FleetgateClient(
            http: http, provisioningURL: options.provisioningURL, ingestURL: options.provisioningURL,
            requestTimeout: options.requestTimeout
        )
        let credentials = try await enrollDevices(options, client: client, logger: logger)
        try await http.shutdown()
        return credentials
    } catch {
        try? await http.shutdown()
        throw error
    }
}

func enrollDevices(_ options: EnrollmentOptions, client: FleetgateClient, logger: Logger) async throws
    -> [DeviceCredential]
{
    guard options.devices > 0 else { throw SimulatorError("--devices must be at least 1") }
    let operatorToken: String
    do {
        operatorToken = try await client.login(options.operatorLogin)
    } catch {
        throw SimulatorError("login as the operator failed: \(error)")
    }
    var credentials: [DeviceCredential] = []
    credentials.reserveCapacity(options.devices)
    var start = 1
    while start <= options.devices {
        let end = min(options.devices, start + options.chunkSize - 1)
        let ids = (start...end).map(options.deviceID)
        let lines: [FleetgateClient.EnrollmentLine]
        do {
            lines = try await client.bulkEnroll(ids: ids, fleet: options.fleet, operatorToken: operatorToken)
        } catch {
            throw SimulatorError("bulk enrollment of \(ids.first ?? "") … \(ids.last ?? "") failed: \(error)")
        }
        var enrolled: [String: DeviceCredential] = [:]
        var failures: [String: String] = [:]
        for line in lines {
            guard let number = line.line, (1...ids.count).contains(number) else { continue }
            let id = line.id ?? ids[number - 1]
            if let refreshToken = line.refreshToken {
                enrolled[id] = DeviceCredential(id: id, fleet: line.fleet ?? options.fleet, refreshToken: refreshToken)
            } else if let error = line.error {
                failures[ids[number - 1]] = error.code
            }
        }
        for id in ids {
            if let credential = enrolled[id] {
                credentials.append(credential)
            } else if failures[id] == "conflict" {
                do {
                    let refreshToken = try await client.reissueCredentials(id: id, operatorToken: operatorToken)
                    credentials.append(DeviceCredential(id: id, fleet: options.fleet, refreshToken: refreshToken))
                } catch {
                    throw SimulatorError("device \(id) exists and new credentials could not be issued: \(error)")
                }
            } else {
                throw SimulatorError("device \(id) was not enrolled: \(failures[id] ?? "no answer line")")
            }
        }
        logger.info("enrolled devices", metadata: ["count": "\(credentials.count)", "of": "\(options.devices)"])
        start = end + 1
    }
    return credentials
}
