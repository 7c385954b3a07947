import FleetCore
import Foundation
import NIOCore

/// Reads `grant_type=refresh_token&refresh_token=…` as form data (RFC 6749 §6) or JSON.
enum RefreshForm {
    /// The largest body read.
    static let limit = 8 * 1024
    static let tooLarge = FleetError(.payloadTooLarge, "body exceeds 8 KiB")

    /// The refresh token of a whole body.
    static func parse(_ body: ByteBuffer, contentType: String?) throws(FleetError) -> String {
        let contentType = contentType?.lowercased() ?? ""
        var grantType: String?
        var token: String?
        if contentType.hasPrefix("application/x-www-form-urlencoded") {
            let text = String(buffer: body)
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { continue }
                let value = String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
                switch parts[0] {
                case "grant_type": grantType = value
                case "refresh_token": token = value
                default: break
                }
            }
        } else if contentType.hasPrefix("application/json") {
            // Read member by member (first value wins, as JSONDecoder does): every token request
            // passes here, and JSONDecoder costs more than the rest of the parsing together.
            var shapeIsRight = true
            var seen: Set<String> = []
            let parsed = JSONObjectReader.forEachMember(Array(body.readableBytesView)) { name, value in
                guard name == "grant_type" || name == "refresh_token", seen.insert(name).inserted else { return }
                switch value {
                case .string(let text):
                    if name == "grant_type" { grantType = text } else { token = text }
                case .null: break
                default: shapeIsRight = false
                }
            }
            guard parsed, shapeIsRight else {
                throw FleetError(.invalidRequest, "body is not JSON of the expected shape")
            }
        } else {
            throw FleetError(.unsupportedMediaType, "send application/x-www-form-urlencoded or application/json")
        }
        guard grantType == "refresh_token" else {
            throw FleetError(.invalidRequest, "grant_type must be refresh_token")
        }
        guard let token, !token.isEmpty else { throw FleetError(.invalidRequest, "refresh_token is required") }
        return token
    }
}
