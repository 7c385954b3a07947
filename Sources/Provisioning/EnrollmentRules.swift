import CoreMetrics
import FleetAuth
import FleetCore
import FleetStore
import Foundation
import Logging

/// Validates one enrollment line and prepares what is stored: id, fleet, labels and the hash of
/// a fresh refresh token (the token itself is only ever shown in the answer).
enum EnrollmentRules {
    struct Prepared {
        let request: EnrollmentRequest
        let refreshToken: String
    }

    static let maxLabels = 64
    static let maxLabelLength = 256

    static func request(id: String?, fleet: String?, labels: [String: String]?) throws(FleetError) -> Prepared {
        let id = id ?? DeviceID.generate()
        guard DeviceID.isValid(id) else {
            throw FleetError(.invalidRequest, "id must be 1–128 characters of A-Z a-z 0-9 _ . : -")
        }
        let fleet = fleet ?? "default"
        guard DeviceID.isValid(fleet) else {
            throw FleetError(.invalidRequest, "fleet must be 1–128 characters of A-Z a-z 0-9 _ . : -")
        }
        let labels = labels ?? [:]
        guard labels.count <= maxLabels,
            labels.allSatisfy({ !$0.key.isEmpty && $0.key.count <= maxLabelLength && $0.value.count <= maxLabelLength })
        else {
            throw FleetError(
                .invalidRequest, "at most \(maxLabels) labels, keys and values up to \(maxLabelLength) characters")
        }
        let labelsJSON = String(decoding: (try? JSONEncoder().encode(labels)) ?? Data("{}".utf8), as: UTF8.self)
        let token = RefreshToken.generate()
        return Prepared(
            request: EnrollmentRequest(
                id: id, fleet: fleet, labelsJSON: labelsJSON, refreshTokenHash: RefreshToken.hash(token)),
            refreshToken: token
        )
    }
}
