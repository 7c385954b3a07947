import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Provisioning
import Testing

@Suite("Telemetry read API: records newest first, latest per name")
struct TelemetryReadTests {
    @Test("records come back newest first as SenML, filtered by name, time range and limit")
    func records() async throws {
        try await ProvisioningHarness.run { h in
            let viewer = try await h.login(.viewer)
            try await h.enroll("s-1", token: try await h.login())
            let t = 1_764_400_000.0
            try await h.insertTelemetry(
                device: "s-1",
                rows: [("temp", t, 20), ("temp", t + 10, 21), ("temp", t + 20, 22), ("hum", t + 5, 50)])
            try await h.insertTelemetry(device: "other", rows: [("temp", t + 30, 99)])

            let all = try await h.call(.get, "/v1/devices/s-1/telemetry", token: viewer)
            #expect(all.status == .ok)
            #expect(all.headers[.contentType] == "application/senml+json")
            let records = try ProvisioningHarness.array(all)
            #expect(records.compactMap { $0["v"] as? Double } == [22, 21, 50, 20])
            #expect(records.first?["n"] as? String == "temp")
            #expect(records.first?["u"] as? String == "Cel")
            #expect(records.first?["t"] as? Double == t + 20)

            let named = try ProvisioningHarness.array(
                try await h.call(.get, "/v1/devices/s-1/telemetry?name=temp&limit=2", token: viewer))
            #expect(named.compactMap { $0["v"] as? Double } == [22, 21])

            let ranged = try ProvisioningHarness.array(
                try await h.call(
                    .get, "/v1/devices/s-1/telemetry?from=\(Int(t + 5))&to=\(Int(t + 20))", token: viewer))
            #expect(ranged.compactMap { $0["v"] as? Double } == [21, 50])

            for bad in ["limit=0", "limit=10001", "from=x", "to=nan"] {
                let response = try await h.call(.get, "/v1/devices/s-1/telemetry?\(bad)", token: viewer)
                #expect(response.status == .badRequest, "\(bad)")
                #expect(ProvisioningHarness.code(response) == "invalid_request", "\(bad)")
            }
            let unknown = try await h.call(.get, "/v1/devices/nope/telemetry", token: viewer)
            #expect(unknown.status == .notFound)
            #expect(ProvisioningHarness.code(unknown) == "not_found")
        }
    }

    @Test("latest answers the newest record of each name")
    func latest() async throws {
        try await ProvisioningHarness.run { h in
            let viewer = try await h.login(.viewer)
            try await h.enroll("s-2", token: try await h.login())
            let empty = try await h.call(.get, "/v1/devices/s-2/latest", token: viewer)
            #expect(empty.status == .ok)
            #expect(try ProvisioningHarness.array(empty).isEmpty)

            let t = 1_764_400_000.0
            try await h.insertTelemetry(
                device: "s-2", rows: [("temp", t, 20), ("temp", t + 10, 21), ("hum", t + 5, 50), ("hum", t, 40)])
            let records = try ProvisioningHarness.array(try await h.call(.get, "/v1/devices/s-2/latest", token: viewer))
            let byName = Dictionary(uniqueKeysWithValues: records.map { ($0["n"] as? String ?? "", $0) })
            #expect(byName.count == 2)
            #expect(byName["temp"]?["v"] as? Double == 21)
            #expect(byName["temp"]?["t"] as? Double == t + 10)
            #expect(byName["hum"]?["v"] as? Double == 50)

            let unknown = try await h.call(.get, "/v1/devices/nope/latest", token: viewer)
            #expect(unknown.status == .notFound)
            #expect(ProvisioningHarness.code(unknown) == "not_found")
        }
    }
}
