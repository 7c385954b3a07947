import FleetAuth
import FleetCore
import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Provisioning
import Testing

@Suite("Bulk enrollment: NDJSON and CSV in, one NDJSON line out per input line")
struct BulkEnrollmentTests {
    static func lines(_ response: TestResponse) throws -> [[String: Any]] {
        try String(buffer: response.body).split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test("NDJSON: good lines are enrolled, bad and duplicate lines are reported on their own line")
    func ndjson() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login(.operator)
            try await h.enroll("taken", token: token)
            let body = [
                #"{"id":"b-1","fleet":"f1","labels":{"room":"7"}}"#,
                #"{"id":"b-2"}"#,
                #"{"id":"bad id"}"#,
                "not json",
                #"{"id":"b-1"}"#,
                #"{"id":"taken"}"#,
                #"{"fleet":"f2"}"#,
            ].joined(separator: "\n")
            let response = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: body, contentType: "application/x-ndjson")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/x-ndjson")
            let out = try Self.lines(response)
            try #require(out.count == 7)
            #expect(out.map { $0["line"] as? Int } == Array(1...7))
            #expect(out[0]["id"] as? String == "b-1" && out[0]["fleet"] as? String == "f1")
            #expect((out[0]["refresh_token"] as? String)?.hasPrefix("fgr_") == true)
            #expect(out[1]["id"] as? String == "b-2" && out[1]["fleet"] as? String == "default")
            func errorCode(_ line: [String: Any]) -> String? { (line["error"] as? [String: Any])?["code"] as? String }
            #expect(errorCode(out[2]) == "invalid_request")
            #expect(errorCode(out[3]) == "invalid_request")
            #expect(errorCode(out[4]) == "conflict")
            #expect(errorCode(out[5]) == "conflict")
            #expect(out[6]["fleet"] as? String == "f2")
            let generated = try #require(out[6]["id"] as? String)
            #expect(out.allSatisfy { $0["access_token"] == nil })

            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices") == 4)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE id = '\(generated)'") == 1)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE labels->>'room' = '7'") == 1)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM refresh_tokens") == 4)

            // The refresh tokens handed out work.
            let refresh = try #require(out[0]["refresh_token"] as? String)
            #expect(try await h.refresh(refresh).status == .ok)
        }
    }

    @Test("CSV with a header id,fleet enrolls line by line; CRLF and blank lines are fine")
    func csv() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login()
            let body = "fleet,id\r\nf1,c-1\r\nf2,c-2\r\n\r\nf1,c-1\r\nf1,bad id\r\nf3,\r\n"
            let response = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: body, contentType: "text/csv; charset=utf-8")
            #expect(response.status == .ok)
            let out = try Self.lines(response)
            try #require(out.count == 5)
            #expect(out.map { $0["line"] as? Int } == [2, 3, 5, 6, 7])
            #expect(out[0]["id"] as? String == "c-1" && out[0]["fleet"] as? String == "f1")
            #expect(out[1]["id"] as? String == "c-2" && out[1]["fleet"] as? String == "f2")
            #expect((out[2]["error"] as? [String: Any])?["code"] as? String == "conflict")
            #expect((out[3]["error"] as? [String: Any])?["code"] as? String == "invalid_request")
            #expect(out[4]["fleet"] as? String == "f3")
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices") == 3)
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE fleet = 'f2' AND id = 'c-2'") == 1)

            let noHeader = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: "a,b\n1,2\n", contentType: "text/csv")
            #expect(noHeader.status == .badRequest)
            #expect(ProvisioningHarness.code(noHeader) == "invalid_request")
        }
    }

    @Test("CSV as spreadsheets write it: a byte-order mark, quoted fields with commas and doubled quotes")
    func spreadsheetCSV() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login()
            // A note column first: if a quoted comma split its field, id and fleet would shift.
            let body =
                "\u{FEFF}\"note\",\"id\",\"fleet\"\r\n\"boiler, \"\"east\"\" wing\",\"q-1\",\"f1\"\r\n,  q-2 , \"f2\" \r\n"
                + ",\"q-3\"x,f1\r\n,\"q-4,f1\r\n,\"q\"\"5\",f1\r\n,\"q-6\",\"a,b\"\r\n"
            let response = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: body, contentType: "text/csv")
            #expect(response.status == .ok)
            let out = try Self.lines(response)
            try #require(out.count == 6)
            #expect(out[0]["id"] as? String == "q-1" && out[0]["fleet"] as? String == "f1")
            #expect(out[1]["id"] as? String == "q-2" && out[1]["fleet"] as? String == "f2")
            // Text after a closing quote, a quote left open: refused on their own lines.
            #expect((out[2]["error"] as? [String: Any])?["code"] as? String == "invalid_request")
            #expect((out[3]["error"] as? [String: Any])?["code"] as? String == "invalid_request")
            // Quoted content is the id or fleet itself, so the contract's character rules still apply.
            #expect((out[4]["error"] as? [String: Any])?["code"] as? String == "invalid_request")
            #expect((out[5]["error"] as? [String: Any])?["code"] as? String == "invalid_request")
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices") == 2)

            let openHeader = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: "\"id,fleet\nx,y\n", contentType: "text/csv")
            #expect(openHeader.status == .badRequest)
            #expect(ProvisioningHarness.code(openHeader) == "invalid_request")
        }
    }

    @Test("NDJSON members are read as JSONDecoder reads them, NUL labels refused; CSV fields lose spaces and tabs")
    func memberTypesAndSpacing() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login()
            let ndjson = [
                #"{"id":"t-1","labels":null,"extra":[1,{"x":true}]}"#,
                #"{"id":"t-2","id":"ignored","fleet":null,"labels":{"a":"1","b":"2"}}"#,
                #"{"id":7}"#,
                #"{"id":"t-4","labels":{"a":1}}"#,
                #"{"id":"t-5","fleet":["f"]}"#,
                #"["t-6"]"#,
                #"{"id":"t-7","labels":{"k":"a\u0000b"}}"#,
            ].joined(separator: "\n")
            let response = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: ndjson, contentType: "application/x-ndjson")
            let out = try Self.lines(response)
            try #require(out.count == 7)
            #expect(out[0]["id"] as? String == "t-1")
            #expect(out[1]["id"] as? String == "t-2" && out[1]["fleet"] as? String == "default")
            // A NUL in a label is refused on its line (jsonb would refuse the whole chunk).
            for index in 2..<7 {
                #expect((out[index]["error"] as? [String: Any])?["code"] as? String == "invalid_request", "\(index)")
            }
            #expect(
                try await h.scalar("SELECT count(*)::int8 FROM devices WHERE labels = '{\"a\":\"1\",\"b\":\"2\"}'") == 1
            )
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE id = 't-1' AND labels = '{}'") == 1)

            let csv = " id ,\tfleet\n  s-1\t, f1 \n"
            let spaced = try Self.lines(
                try await h.call(.post, "/v1/devices/bulk", token: token, body: csv, contentType: "text/csv"))
            try #require(spaced.count == 1)
            #expect(spaced[0]["id"] as? String == "s-1" && spaced[0]["fleet"] as? String == "f1")
        }
    }

    @Test("more than one chunk of lines is enrolled and answered in order")
    func manyLines() async throws {
        try await ProvisioningHarness.run { h in
            let token = try await h.login()
            let count = 2_500
            var body = (0..<count).map { #"{"id":"m-\#($0)","fleet":"big"}"# }
            body[1_500] = #"{"id":"m-0"}"#  // a duplicate in a later chunk
            let response = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: body.joined(separator: "\n"),
                contentType: "application/x-ndjson")
            #expect(response.status == .ok)
            let out = try Self.lines(response)
            #expect(out.count == count)
            #expect(out.map { $0["line"] as? Int } == Array(1...count))
            #expect((out[1_500]["error"] as? [String: Any])?["code"] as? String == "conflict")
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices WHERE fleet = 'big'") == count - 1)
        }
    }

    @Test("a bulk upload in another media type or with a Content-Encoding is 415, over the size limit 413")
    func mediaTypeAndSize() async throws {
        try await ProvisioningHarness.run(configure: { $0.bulkMaxBytes = 1024 }) { h in
            let token = try await h.login()
            for contentType in ["text/plain", "application/json", "application/octet-stream"] {
                let response = try await h.call(
                    .post, "/v1/devices/bulk", token: token, body: #"{"id":"x"}"#, contentType: contentType)
                #expect(response.status == .unsupportedMediaType, "\(contentType)")
                #expect(ProvisioningHarness.code(response) == "unsupported_media_type")
            }
            // A compressed manifest is refused, not read as text.
            for encoding in ["gzip", "deflate", "identity, gzip"] {
                let response = try await h.call(
                    .post, "/v1/devices/bulk", token: token, body: "id\nz-1\n", contentType: "text/csv",
                    headers: [.contentEncoding: encoding])
                #expect(response.status == .unsupportedMediaType, "\(encoding)")
                #expect(ProvisioningHarness.code(response) == "unsupported_media_type")
            }
            let identity = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: "id\nz-1\n", contentType: "text/csv",
                headers: [.contentEncoding: "Identity"])
            #expect(identity.status == .ok)
            let big = (0..<100).map { #"{"id":"big-\#($0)"}"# }.joined(separator: "\n")
            let response = try await h.call(
                .post, "/v1/devices/bulk", token: token, body: big, contentType: "application/x-ndjson")
            #expect(response.status.code == 413)
            #expect(ProvisioningHarness.code(response) == "payload_too_large")
            // Only the identity upload enrolled.
            #expect(try await h.scalar("SELECT count(*)::int8 FROM devices") == 1)
        }
    }
}
