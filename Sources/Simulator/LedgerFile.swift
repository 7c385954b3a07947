import Foundation

/// The ledger on disk: NDJSON, a header `{"sensors":[...]}` then one `LedgerBatch` a line.
public enum LedgerFile {
    struct Header: Codable {
        var sensors: [String]
    }

    /// Writes `ledger` to `path` (no secrets in it, but written atomically all the same).
    public static func write(_ ledger: Ledger, to path: String) throws(SimulatorError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        do {
            data.append(try encoder.encode(Header(sensors: ledger.sensorNames)))
            data.append(UInt8(ascii: "\n"))
            for batch in ledger.batches {
                data.append(try encoder.encode(batch))
                data.append(UInt8(ascii: "\n"))
            }
        } catch {
            throw SimulatorError("cannot encode the ledger")
        }
        try PrivateFile.write(data, to: path, mode: 0o644)
    }

    /// Reads a ledger written by `write`.
    public static func read(from path: String) throws(SimulatorError) -> Ledger {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SimulatorError("cannot read ledger file \(path)")
        }
        let decoder = JSONDecoder()
        var lines = data.split(separator: UInt8(ascii: "\n")).makeIterator()
        guard let first = lines.next(), let header = try? decoder.decode(Header.self, from: Data(first)),
            !header.sensors.isEmpty
        else {
            throw SimulatorError("ledger file \(path) does not start with {\"sensors\":[...]}")
        }
        var ledger = Ledger(sensorNames: header.sensors)
        var number = 1
        while let line = lines.next() {
            number += 1
            guard let batch = try? decoder.decode(LedgerBatch.self, from: Data(line)) else {
                throw SimulatorError("ledger file \(path) line \(number) is not a batch")
            }
            ledger.batches.append(batch)
        }
        return ledger
    }
}
