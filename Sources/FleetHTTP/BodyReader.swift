import FleetCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Reads a request body within limits and undoes its Content-Encoding.
public struct BodyReader: Sendable {
    /// Most bytes accepted on the wire (API.md: 1 MiB).
    public let compressedLimit: Int
    /// Most bytes after inflation (API.md: 16 MiB).
    public let inflatedLimit: Int

    public init(compressedLimit: Int, inflatedLimit: Int) {
        self.compressedLimit = compressedLimit
        self.inflatedLimit = inflatedLimit
    }

    /// Reads a router request's body whole, stopping as soon as it passes `compressedLimit`. Call
    /// `admit` on the head first; `decode` undoes the encoding.
    public func collect(_ request: Request) async throws(FleetError) -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: compressedLimit)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        } catch {
            throw FleetError(.invalidRequest, "the request body could not be read")
        }
    }

    /// What can be refused before the body is read: an unknown Content-Encoding, a declared length
    /// over the limit. Returns the encoding to undo.
    public func admit(_ headers: HTTPFields) throws(FleetError) -> Encoding {
        let encoding = try Self.encoding(of: headers)
        if let length = headers[.contentLength].flatMap(Int.init), length > compressedLimit {
            throw FleetError(.payloadTooLarge, "body of \(length) bytes exceeds \(compressedLimit) bytes")
        }
        return encoding
    }

    /// The refusal for a body that passed `compressedLimit` while it was read.
    public var tooLarge: FleetError { FleetError(.payloadTooLarge, "body exceeds \(compressedLimit) bytes") }

    /// Undoes the Content-Encoding of a body read whole, within `inflatedLimit`.
    public func decode(_ raw: ByteBuffer, encoding: Encoding) throws(FleetError) -> ByteBuffer {
        switch encoding {
        case .identity:
            guard raw.readableBytes <= inflatedLimit else {
                throw FleetError(.inflatedTooLarge, "body exceeds \(inflatedLimit) bytes")
            }
            return raw
        case .zlib: return try Inflater(limit: inflatedLimit).inflate(raw, format: .zlib)
        case .gzip: return try Inflater(limit: inflatedLimit).inflate(raw, format: .gzip)
        }
    }

    public enum Encoding: Sendable { case identity, zlib, gzip }

    static func encoding(of headers: HTTPFields) throws(FleetError) -> Encoding {
        let values = headers[values: .contentEncoding]
        guard values.count <= 1 else {
            throw FleetError(.unsupportedMediaType, "one Content-Encoding only (deflate, gzip or identity)")
        }
        guard let value = values.first.map({ HeaderValue.trimmed($0) }) else { return .identity }
        if HeaderValue.equals(value, lowercase: "deflate") { return .zlib }
        if HeaderValue.equals(value, lowercase: "gzip") || HeaderValue.equals(value, lowercase: "x-gzip") {
            return .gzip
        }
        if value.isEmpty || HeaderValue.equals(value, lowercase: "identity") { return .identity }
        throw FleetError(.unsupportedMediaType, "Content-Encoding must be deflate, gzip or identity")
    }
}
