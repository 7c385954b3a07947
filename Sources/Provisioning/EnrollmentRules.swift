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
        // PostgreSQL's jsonb refuses \u0000, which would fail a whole bulk chunk, not this line.
        guard !labels.contains(where: { $0.key.utf8.contains(0) || $0.value.utf8.contains(0) }) else {
            throw FleetError(.invalidRequest, "label keys and values may not contain U+0000")
        }
        let labelsJSON = Self.json(labels)
        let token = RefreshToken.generate()
        return Prepared(
            request: EnrollmentRequest(
                id: id, fleet: fleet, labelsJSON: labelsJSON, refreshTokenHash: RefreshToken.hash(token)),
            refreshToken: token
        )
    }

    /// The labels as a JSON object, keys sorted. Written by hand: JSONEncoder was 10 % of a
    /// 100 000-device bulk enrollment, most of it for the empty object of a CSV line.
    static func json(_ labels: [String: String]) -> String {
        guard !labels.isEmpty else { return "{}" }
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (index, key) in labels.keys.sorted().enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONStringWriter.append(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONStringWriter.append(labels[key] ?? "", to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
