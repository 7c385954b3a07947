import CoreMetrics
import FleetAuth
import FleetStore
import Foundation
import Logging

/// Request and answer bodies of the control plane (API.md). Keys are snake_case on the wire.
struct LoginRequest: Decodable {
    var username: String
    var password: String
}

struct CreateOperatorRequest: Decodable {
    var username: String
    var password: String
    var role: String
}

struct AccessTokenAnswer: Encodable {
    var accessToken: String
    var tokenType = "Bearer"
    var expiresIn: Int
    var refreshToken: String?
}

struct EnrollRequest: Decodable {
    var id: String?
    var fleet: String?
    var labels: [String: String]?
}

struct EnrollAnswer: Encodable {
    var id: String
    var fleet: String
    var refreshToken: String
    var accessToken: String
    var tokenType = "Bearer"
    var expiresIn: Int
}

struct DeviceView: Encodable {
    var id: String
    var fleet: String
    var labels: [String: String]
    var status: String
    var createdAt: String
    var lastSeenAt: String?

    init(_ record: DeviceRecord) {
        id = record.id
        fleet = record.fleet
        labels = (try? JSONDecoder().decode([String: String].self, from: Data(record.labelsJSON.utf8))) ?? [:]
        status = record.status
        createdAt = Self.iso8601(record.createdAt)
        lastSeenAt = record.lastSeenAt.map(Self.iso8601)
    }

    static func iso8601(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
    }
}

struct DeviceList: Encodable {
    var devices: [DeviceView]
    var next: String?
}

struct CredentialsAnswer: Encodable {
    var id: String
    var refreshToken: String
}

struct RotateAnswer: Encodable {
    var kid: String
}
