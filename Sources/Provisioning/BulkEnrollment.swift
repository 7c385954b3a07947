import CoreMetrics
import FleetAuth
import FleetCore
import FleetHTTP
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `POST /v1/devices/bulk`: NDJSON or CSV in, one NDJSON line out per input line, streamed as
/// chunks commit. Lines are enrolled 1 000 at a time in one round trip; a bad or duplicate line
/// is reported on its own line and the others are enrolled.
struct BulkEnrollment: Sendable {
    let routes: ProvisioningRoutes
    static let chunkSize = 1000

    enum Format { case ndjson, csv }

    struct Line {
        let number: Int
        let result: Result<EnrollmentRules.Prepared, FleetError>
    }

    @Sendable func handle(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = try await routes.authenticator.authorize(request, .manageDevices)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let format: Format
        if contentType.hasPrefix("application/x-ndjson") || contentType.hasPrefix("application/jsonl") {
            format = .ndjson
        } else if contentType.hasPrefix("text/csv") {
            format = .csv
        } else {
            throw FleetError(.unsupportedMediaType, "send application/x-ndjson or text/csv")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: routes.configuration.bulkMaxBytes)
        } catch {
            throw FleetError(.payloadTooLarge, "body exceeds \(routes.configuration.bulkMaxBytes) bytes")
        }
        let lines = try Self.parse(String(buffer: body), format: format)
        let devices = routes.devices
        let clock = routes.clock
        let metrics = routes.metrics
        let logger = context.logger as Logger
        return Response(
            status: .ok,
            headers: [.contentType: "application/x-ndjson", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                var enrolled = 0
                var start = 0
                while start < lines.count {
                    let chunk = lines[start..<min(start + Self.chunkSize, lines.count)]
                    start += Self.chunkSize
                    // The first line with an id claims it; a repeat within the upload is a conflict.
                    var seen = Set<String>()
                    var fresh: [EnrollmentRequest] = []
                    for line in chunk {
                        if case .success(let prepared) = line.result, seen.insert(prepared.request.id).inserted {
                            fresh.append(prepared.request)
                        }
                    }
                    let created = try await devices.enroll(fresh, now: clock.now())
                    var out = ByteBuffer()
                    var claimed = Set<String>()
                    for line in chunk {
                        switch line.result {
                        case .failure(let error):
                            Self.writeError(line.number, error, to: &out)
                        case .success(let prepared):
                            let id = prepared.request.id
                            if created.contains(id), claimed.insert(id).inserted {
                                enrolled += 1
                                out.writeString(
                                    #"{"line":\#(line.number),"id":"\#(id)","fleet":"\#(prepared.request.fleet)","refresh_token":"\#(prepared.refreshToken)"}"#
                                        + "\n"
                                )
                            } else {
                                Self.writeError(line.number, FleetError(.conflict, "device \(id) exists"), to: &out)
                            }
                        }
                    }
                    try await writer.write(out)
                }
                metrics.enrollments.increment(by: enrolled)
                logger.info(
                    "bulk enrollment",
                    metadata: ["by": "\(caller.sub)", "lines": "\(lines.count)", "enrolled": "\(enrolled)"]
                )
                try await writer.finish(nil)
            }
        )
    }

    static func writeError(_ line: Int, _ error: FleetError, to out: inout ByteBuffer) {
        out.writeString(#"{"line":\#(line),"error":{"code":"\#(error.code.rawValue)","detail":"#)
        ProblemResponse.writeJSONString(error.detail, to: &out)
        out.writeString("}}\n")
    }

    static func parse(_ text: String, format: Format) throws -> [Line] {
        var lines: [Line] = []
        var number = 0
        var csvColumns: (id: Int?, fleet: Int?)?
        // Split on bytes: in Swift "\r\n" is one Character, so splitting the String on "\n" would
        // leave a CSV with CRLF line ends (RFC 4180 §2) as a single line.
        for raw in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let line = Substring(raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw)
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            switch format {
            case .ndjson:
                let result: Result<EnrollmentRules.Prepared, FleetError>
                do {
                    let request = try JSONDecoder().decode(EnrollRequest.self, from: Data(line.utf8))
                    result = Result { () throws(FleetError) in
                        try EnrollmentRules.request(id: request.id, fleet: request.fleet, labels: request.labels)
                    }
                } catch {
                    result = .failure(
                        FleetError(.invalidRequest, "not a JSON object {\"id\"?, \"fleet\"?, \"labels\"?}"))
                }
                lines.append(Line(number: number, result: result))
            case .csv:
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                guard let columns = csvColumns else {
                    let id = fields.firstIndex(of: "id")
                    let fleet = fields.firstIndex(of: "fleet")
                    guard id != nil || fleet != nil else {
                        throw FleetError(.invalidRequest, "the CSV header must name the columns id and fleet")
                    }
                    csvColumns = (id, fleet)
                    continue
                }
                func field(_ index: Int?) -> String? {
                    guard let index, index < fields.count, !fields[index].isEmpty else { return nil }
                    return fields[index]
                }
                let result = Result { () throws(FleetError) in
                    try EnrollmentRules.request(id: field(columns.id), fleet: field(columns.fleet), labels: nil)
                }
                lines.append(Line(number: number, result: result))
            }
        }
        return lines
    }
}
