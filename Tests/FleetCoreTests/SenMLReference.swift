import FleetCore
import Foundation

/// The reference verdict of the SenML differential checks, shared by the fuzz target
/// (Fuzz/fuzz-senml.swift, which Fuzz/run.sh compiles with this file) and `FuzzRegressionTests`,
/// so that a regression input is judged exactly as the fuzzer judged it.
///
/// The verdict is SenMLReferenceDecoder's AND JSONSerialization's: JSONDecoder never looks inside
/// values it is not asked for (invalid UTF-8, `-01` or a bad escape in an ignored field pass), where
/// the parser, rightly, checks the whole text as RFC 8259 JSON; JSONSerialization does too. Both
/// Foundation readers accept a trailing comma (`[1,]`, `{"n":"x",}`), which RFC 8259 does not; the
/// helpers below undo that and the other Foundation quirks the fuzzer found.
enum SenMLReference {
    static func verdict(_ bytes: [UInt8]) -> Result<[SenMLRecord], FleetError> {
        outcome { () throws(FleetError) in
            guard !hasTrailingComma(bytes), !hasInfiniteNumber(bytes),
                (try? JSONSerialization.jsonObject(with: Data(bytes))) != nil
            else {
                throw FleetError(.badPayload, "not RFC 8259 JSON")
            }
            return try SenMLReferenceDecoder().decode(zeroExponentSigned(negativeZeroExponentDropped(bytes)))
        }
    }

    static func outcome(_ body: () throws(FleetError) -> [SenMLRecord]) -> Result<[SenMLRecord], FleetError> {
        do {
            return .success(try body())
        } catch {
            return .failure(error)
        }
    }

    /// JSONDecoder refuses some negative zeros with a positive exponent (`-0.0e2`, `-0.0E+2`), valid
    /// RFC 8259 JSON whose value is -0.0; the reference gets `-0.0` instead. Found by `make fuzz`.
    static func negativeZeroExponentDropped(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var inString = false
        var index = 0
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                out.append(byte)
                index += 1
                if byte == UInt8(ascii: "\\"), index < bytes.count {
                    out.append(bytes[index])
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "-"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "0"),
                index == 0 || !(digits.contains(bytes[index - 1]) || "eE.".utf8.contains(bytes[index - 1]))
            {
                var end = index + 2
                if end < bytes.count, bytes[end] == UInt8(ascii: ".") {
                    end += 1
                    while end < bytes.count, bytes[end] == UInt8(ascii: "0") { end += 1 }
                }
                let mantissaEnd = end
                if end < bytes.count, bytes[end] == UInt8(ascii: "e") || bytes[end] == UInt8(ascii: "E") {
                    end += 1
                    if end < bytes.count, bytes[end] == UInt8(ascii: "+") || bytes[end] == UInt8(ascii: "-") {
                        end += 1
                    }
                    let exponentStart = end
                    while end < bytes.count, digits.contains(bytes[end]) { end += 1 }
                    let nextIsNumberPart =
                        end < bytes.count && (digits.contains(bytes[end]) || bytes[end] == UInt8(ascii: "."))
                    let zerosOnly = !(mantissaEnd < bytes.count && digits.contains(bytes[mantissaEnd]))
                    if end > exponentStart, !nextIsNumberPart, zerosOnly {
                        out.append(contentsOf: Array("-0.0".utf8))
                        index = end
                        continue
                    }
                }
            }
            out.append(byte)
            index += 1
        }
        return out
    }

    /// JSONDecoder refuses `0e5` (zero, then an exponent without a sign), valid RFC 8259 JSON that it
    /// reads fine as `0e+5`; the reference gets the sign added. Found by `make fuzz`.
    static func zeroExponentSigned(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            out.append(byte)
            index += 1
            if inString {
                if byte == UInt8(ascii: "\\"), index < bytes.count {
                    out.append(bytes[index])
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "0"), index + 1 < bytes.count,
                bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E"),
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index + 1]),
                index < 2 || !"0123456789.eE+".utf8.contains(bytes[index - 2])
            {
                out.append(bytes[index])
                out.append(UInt8(ascii: "+"))
                index += 1
            }
        }
        return out
    }

    /// JSONSerialization reads only the last value of a repeated key, so `{"t":1e999,"t":1}` passes
    /// it, while a lone `1e999` does not; the parser, rightly, refuses any number beyond a Double's
    /// range. The reference refuses such a text too. Found by `make fuzz`.
    static func hasInfiniteNumber(_ bytes: [UInt8]) -> Bool {
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                index += 1
            } else if byte == UInt8(ascii: "\"") {
                inString = true
                index += 1
            } else if byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                var end = index
                while end < bytes.count, "0123456789+-.eE".utf8.contains(bytes[end]) { end += 1 }
                let value = strtod(String(decoding: bytes[index..<end], as: UTF8.self), nil)
                if !value.isFinite { return true }
                index = end
            } else {
                index += 1
            }
        }
        return false
    }

    /// A `,` right before `]` or `}` (JSON whitespace between), outside strings.
    static func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: ",") {
                var next = index
                while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: "]") || bytes[next] == UInt8(ascii: "}") {
                    return true
                }
            }
        }
        return false
    }
}
