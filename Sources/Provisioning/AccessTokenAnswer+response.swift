import FleetCore
import HTTPTypes
import Hummingbird
import NIOCore

extension AccessTokenAnswer {
    /// The answer of `POST /v1/token` and `POST /v1/login`, written by hand with the keys in the
    /// order `JSONResponse` (sorted, snake_case) would write them: every issued token is one of
    /// these, and JSONEncoder cost more than the rest of the answer together.
    func response() -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: json()))
    }

    func json() -> ByteBuffer {
        var json: [UInt8] = []
        json.reserveCapacity(accessToken.utf8.count + 128)
        json.append(contentsOf: #"{"access_token":"#.utf8)
        JSONStringWriter.append(accessToken, to: &json)
        json.append(contentsOf: #","expires_in":\#(expiresIn)"#.utf8)
        if let refreshToken {
            json.append(contentsOf: #","refresh_token":"#.utf8)
            JSONStringWriter.append(refreshToken, to: &json)
        }
        json.append(contentsOf: #","token_type":"#.utf8)
        JSONStringWriter.append(tokenType, to: &json)
        json.append(UInt8(ascii: "}"))
        return ByteBuffer(bytes: json)
    }
}
