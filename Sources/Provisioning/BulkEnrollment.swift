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
/// chunks commit. Lines are enrolled 1 000 at a time in one transaction, two chunks at once; a bad
/// or duplicate line is reported on its own line and the others are enrolled.
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
                let chunks = stride(from: 0, to: lines.count, by: Self.chunkSize).map {
                    lines[$0..<min($0 + Self.chunkSize, lines.count)]
                }
                // The first line with an id claims it; a repeat anywhere in the upload is a conflict.
                var seen = Set<String>()
                let fresh = chunks.map { chunk in
                    chunk.compactMap { line -> EnrollmentRequest? in
                        guard case .success(let prepared) = line.result, seen.insert(prepared.request.id).inserted
                        else { return nil }
                        return prepared.request
                    }
                }
                // Two chunks in flight: PostgreSQL inserts the next while this one's lines are
                // written, on two connections. One at a time, the upload waited on every round
                // trip with both sides half idle (100 000 devices: 10.1 s wall for 3.0 s of
                // provisioning CPU and 3.5 s of PostgreSQL's).
                func enroll(_ index: Int) -> Task<Set<String>, any Error> {
                    Task { try await devices.enroll(fresh[index], now: clock.now()) }
                }
                var next = chunks.isEmpty ? nil : enroll(0)
                var enrolled = 0
                var claimed = Set<String>()
                func answer(_ index: Int, created: Set<String>) -> ByteBuffer {
                    var out = ByteBuffer()
                    for line in chunks[index] {
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
                    return out
                }
                var index = 0
                do {
                    while index < chunks.count, let current = next {
                        next = index + 1 < chunks.count ? enroll(index + 1) : nil
                        let created = try await current.value
                        try await writer.write(answer(index, created: created))
                        index += 1
                    }
                } catch {
                    // The chunk after the one that failed may have committed: answer its lines if
                    // the stream still takes them, and log its ids either way (ids are not secret),
                    // so that an operator can re-issue their credentials.
                    if let pending = next, let created = try? await pending.value, !created.isEmpty {
                        try? await writer.write(answer(index + 1, created: created))
                        logger.warning(
                            "bulk enrollment stopped; a chunk enrolled after the failure",
                            metadata: [
                                "by": "\(caller.sub)", "error": "\(DatabaseErrorSummary.describe(error))",
                                "enrolled_ids": "\(created.sorted().joined(separator: ","))",
                            ])
                    }
                    metrics.enrollments.increment(by: enrolled)  // what did commit still counts
                    throw error
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

    /// Spaces and tabs trimmed on bytes: Foundation's `trimmingCharacters` bridged every CSV field
    /// through NSString, a quarter of a 100 000-device enrollment's CPU (perf).
    static func trimmed(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return bytes
    }

    /// One NDJSON line as `EnrollRequest` reads it with JSONDecoder (unknown members ignored, the
    /// first of a repeated member kept, null as absent), without a decoder per line; nil when the
    /// line is not such an object.
    static func enrollRequest(_ bytes: [UInt8]) -> EnrollRequest? {
        var id: String??
        var fleet: String??
        var labels: [String: String]??
        var shapeIsRight = true
        let parsed = JSONObjectReader.forEachMember(bytes) { name, value in
            switch (name, value) {
            case ("id", _) where id == nil: id = value.optionalString(&shapeIsRight)
            case ("fleet", _) where fleet == nil: fleet = value.optionalString(&shapeIsRight)
            case ("labels", .null) where labels == nil: labels = .some(nil)
            case ("labels", .object(let members)) where labels == nil:
                var strings: [String: String] = [:]
                for (key, member) in members {
                    guard case .string(let text) = member else {
                        shapeIsRight = false
                        return
                    }
                    strings[key] = text
                }
                labels = strings
            case ("labels", _) where labels == nil: shapeIsRight = false
            default: break
            }
        }
        guard parsed, shapeIsRight else { return nil }
        return EnrollRequest(id: id ?? nil, fleet: fleet ?? nil, labels: labels ?? nil)
    }

    static func parse(_ text: String, format: Format) throws -> [Line] {
        var lines: [Line] = []
        var number = 0
        var csvColumns: (id: Int?, fleet: Int?)?
        // Split on bytes: in Swift "\r\n" is one Character, so splitting the String on "\n" would
        // leave a CSV with CRLF line ends (RFC 4180 §2) as a single line.
        // A byte-order mark (Excel's "CSV UTF-8" writes one) is not part of the first line.
        let bytes = text.utf8.starts(with: [0xEF, 0xBB, 0xBF]) ? text.utf8.dropFirst(3) : Substring(text).utf8
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let line = raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw
            if Self.trimmed(line).isEmpty { continue }
            switch format {
            case .ndjson:
                let result: Result<EnrollmentRules.Prepared, FleetError>
                if let request = Self.enrollRequest(Array(line)) {
                    result = Result { () throws(FleetError) in
                        try EnrollmentRules.request(id: request.id, fleet: request.fleet, labels: request.labels)
                    }
                } else {
                    result = .failure(
                        FleetError(.invalidRequest, "not a JSON object {\"id\"?, \"fleet\"?, \"labels\"?}"))
                }
                lines.append(Line(number: number, result: result))
            case .csv:
                guard let fields = CSVFields.split(line) else {
                    guard csvColumns != nil else {
                        throw FleetError(.invalidRequest, "the CSV header has a quote left open or text after one")
                    }
                    let error = FleetError(.invalidRequest, "a quote is left open or text follows a closing quote")
                    lines.append(Line(number: number, result: .failure(error)))
                    continue
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

extension JSONValue {
    /// A string member, or nil for null; any other type clears `shapeIsRight`.
    fileprivate func optionalString(_ shapeIsRight: inout Bool) -> String?? {
        switch self {
        case .string(let text): return .some(text)
        case .null: return .some(nil)
        default:
            shapeIsRight = false
            return .some(nil)
        }
    }
}
