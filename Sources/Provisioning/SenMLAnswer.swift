import CoreMetrics
import FleetAuth
import FleetCore
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Writes stored records back as a SenML pack (RFC 8428): full names, absolute times.
enum SenMLAnswer {
    static func make(_ records: [StoredRecord]) -> Response {
        var items: [[String: SenMLValue]] = []
        items.reserveCapacity(records.count)
        for record in records {
            var item: [String: SenMLValue] = ["n": .string(record.name), "t": .number(record.time)]
            if let unit = record.unit { item["u"] = .string(unit) }
            switch record.value {
            case .number(let v): item["v"] = .number(v)
            case .string(let v): item["vs"] = .string(v)
            case .bool(let v): item["vb"] = .bool(v)
            case .data(let v): item["vd"] = .string(v)
            case nil: break
            }
            if let sum = record.sum { item["s"] = .number(sum) }
            items.append(item)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(items)) ?? Data("[]".utf8)
        return Response(
            status: .ok, headers: [.contentType: "application/senml+json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    enum SenMLValue: Encodable {
        case string(String)
        case number(Double)
        case bool(Bool)

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let v): try container.encode(v)
            case .number(let v): try container.encode(v)
            case .bool(let v): try container.encode(v)
            }
        }
    }
}
