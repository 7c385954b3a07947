import Foundation

/// Wall-clock time, injectable so expiry, grace windows and backoff are tested without sleeping.
public protocol WallClock: Sendable {
    /// The current time.
    func now() -> Date
}

/// The system's clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// Device identifiers: 1–128 characters of `[A-Za-z0-9_.:-]`, so they are safe in URLs, logs and
/// notification payloads.
public enum DeviceID {
    public static func isValid(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard (1...128).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"),
                UInt8(ascii: "-"):
                return true
            default: return false
            }
        }
    }

    /// A new random id, `dev-` and 20 lowercase hex digits.
    public static func generate() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var id = Array("dev-".utf8)
        for byte in RandomBytes.make(10) { id += [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]] }
        return String(decoding: id, as: UTF8.self)
    }
}
