import Testing

@testable import Ingest

@Suite("Telemetry Content-Type: SenML JSON or JSON, parameters and case ignored")
struct MediaTypeTests {
    @Test(
        "accepted media types",
        arguments: [
            "application/senml+json", "application/json", "Application/SenML+JSON", "APPLICATION/JSON",
            "application/senml+json; charset=utf-8", " application/json\t", "application/json;",
            "application/json ;q=1",
        ]
    )
    func accepted(_ value: String) {
        #expect(TelemetryIngest.isSenMLOrJSON(value))
    }

    @Test(
        "refused media types",
        arguments: [
            "", ";", "text/plain", "application/senml+cbor", "application/jsonx", "application/jso",
            "xapplication/json",
            "application/json\u{0}", "application/senml json", "application/json,text/plain", "applicatioN/jsoN\u{300}",
        ]
    )
    func refused(_ value: String) {
        #expect(!TelemetryIngest.isSenMLOrJSON(value))
    }
}
