// The usual design of a telemetry endpoint, kept as a yardstick for `make bench` and never
// shipped: issue 4 states its targets against "the usual one-transaction-per-request design",
// measured on another machine. Running that design here, in the same run, with the same load,
// tokens, bodies and table, turns our figures into ratios this machine cannot distort.
//
// It is what the blog-post stack does, written fairly: a JWT library verifies every token (no
// cache, no revocation check), Foundation's JSONDecoder reads the pack, and every request is one
// multi-row INSERT in its own transaction, answered after commit, on a pool with a connection for
// every client connection. Same HTTP server (Hummingbird) and same zlib inflater as ingest, so
// the difference measured is the design: verified-token cache, hand-written SenML decoder and
// group commit.
import FleetHTTP
import Foundation
import Hummingbird
import JWTKit
import Logging
import NIOCore
import PostgresNIO

struct DeviceClaims: JWTPayload {
    let sub: SubjectClaim
    let exp: ExpirationClaim
    let iss: IssuerClaim
    let aud: AudienceClaim
    let scope: String

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try aud.verifyIntendedAudience(includes: "fleetgate-ingest")
        guard iss.value == "fleetgate", scope.split(separator: " ").contains("telemetry:write") else {
            throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "issuer or scope")
        }
    }
}

struct SenMLRecord: Decodable {
    var bn: String?
    var bt: Double?
    var bu: String?
    var n: String?
    var u: String?
    var t: Double?
    var v: Double?
    var vs: String?
    var vb: Bool?
    var vd: String?
    var s: Double?
}

struct Row {
    var name: String
    var time: Date
    var unit: String?
    var value: Double?
    var string: String?
    var bool: Bool?
    var data: String?
    var sum: Double?
}

enum Rejection: Error {
    case badRequest
}

/// RFC 8428 resolution, the common subset: base name and time carried forward, times under 2^28
/// relative to now.
func resolve(_ records: [SenMLRecord], now: Date) throws -> [Row] {
    guard !records.isEmpty else { throw Rejection.badRequest }
    var baseName = ""
    var baseTime = 0.0
    var baseUnit: String?
    return try records.map { record in
        if let bn = record.bn { baseName = bn }
        if let bt = record.bt { baseTime = bt }
        if let bu = record.bu { baseUnit = bu }
        let name = baseName + (record.n ?? "")
        guard !name.isEmpty, name.utf8.count <= 128 else { throw Rejection.badRequest }
        let seconds = baseTime + (record.t ?? 0)
        let time = seconds < 268_435_456 ? now.addingTimeInterval(seconds) : Date(timeIntervalSince1970: seconds)
        return Row(
            name: name, time: time, unit: record.u ?? baseUnit, value: record.v, string: record.vs,
            bool: record.vb, data: record.vd, sum: record.s
        )
    }
}

/// One INSERT … VALUES (…), (…) with nine parameters a row: one statement, so one transaction and
/// one round trip (the kindest form of the design: no BEGIN and COMMIT round trips).
func insert(_ rows: [Row], device: String, into client: PostgresClient, logger: Logger) async throws {
    var sql =
        "INSERT INTO telemetry (device_id, time, name, unit, value, string_value, bool_value, data_value, sum) VALUES "
    var binds = PostgresBindings(capacity: rows.count * 9)
    for (index, row) in rows.enumerated() {
        let p = index * 9
        sql += index == 0 ? "(" : ", ("
        sql += (1...9).map { "$\(p + $0)" }.joined(separator: ", ") + ")"
        binds.append(device)
        binds.append(row.time)
        binds.append(row.name)
        binds.append(row.unit)
        binds.append(row.value)
        binds.append(row.string)
        binds.append(row.bool)
        binds.append(row.data)
        binds.append(row.sum)
    }
    let query = PostgresQuery(unsafeSQL: sql, binds: binds)
    _ = try await client.query(query, logger: logger)
}

@main
struct BaselineIngest {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 5, let port = Int(arguments[1]), let connections = Int(arguments[4]) else {
            FileHandle.standardError.write(
                Data("usage: fleetgate-baseline-ingest <port> <database-url> <jwks-file> <pool-connections>\n".utf8))
            exit(2)
        }
        guard let url = URL(string: arguments[2]), let host = url.host, let user = url.user else {
            FileHandle.standardError.write(Data("database URL needs host and user\n".utf8))
            exit(2)
        }
        let logger = {
            var logger = Logger(label: "baseline")
            logger.logLevel = .warning
            return logger
        }()

        let keys = JWTKeyCollection()
        try await keys.add(
            jwksJSON: String(decoding: try Data(contentsOf: URL(fileURLWithPath: arguments[3])), as: UTF8.self))

        var configuration = PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: user, password: url.password,
            database: String(url.path.dropFirst()), tls: .disable
        )
        configuration.options.minimumConnections = connections
        configuration.options.maximumConnections = connections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)

        let inflater = Inflater(limit: 16 << 20)
        let router = Router()
        router.post("/v1/telemetry") { request, context -> Response in
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
                return Response(status: .unauthorized)
            }
            let claims: DeviceClaims
            do {
                claims = try await keys.verify(String(header.dropFirst(7)), as: DeviceClaims.self)
            } catch {
                return Response(status: .unauthorized)
            }
            var body = try await request.body.collect(upTo: 1 << 20)
            if request.headers[.contentEncoding] == "deflate" {
                body = try inflater.inflate(body, format: .zlib)
            }
            let rows: [Row]
            do {
                let records = try JSONDecoder().decode([SenMLRecord].self, from: Data(body.readableBytesView))
                rows = try resolve(records, now: Date())
            } catch {
                return Response(status: .badRequest)
            }
            do {
                try await insert(rows, device: claims.sub.value, into: client, logger: logger)
            } catch {
                return Response(status: .serviceUnavailable)
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"accepted\":\(rows.count)}"))
            )
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger
        )
        // runService returns after SIGTERM (Hummingbird's graceful shutdown); the pool goes with it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await app.runService()
            group.cancelAll()
        }
    }
}
