// libFuzzer target: the hand-written SenML parser against the Foundation reference decoder
// (differential), then the resolver on whatever both accept. Built by Fuzz/run.sh together with
// Tests/FleetCoreTests/SenMLReference.swift, the reference verdict the regression tests use too.
import FleetCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    let fast = SenMLReference.outcome { () throws(FleetError) in try SenMLParser().parse(bytes) }
    let reference = SenMLReference.verdict(bytes)
    switch (fast, reference) {
    case (.success(let a), .success(let b)):
        guard a == b else { fatalError("parser and reference disagree on the records:\n\(a)\n\(b)") }
        // Resolution must answer (records or a contract error), never crash.
        do {
            let resolved = try SenMLResolver().resolve(a, now: 1_764_400_000)
            guard resolved.count == a.count else { fatalError("resolver dropped records") }
        } catch {
            guard [.badPayload, .badTimestamp, .tooManyRecords].contains(error.code) else {
                fatalError("resolver threw \(error)")
            }
        }
    case (.failure(let a), .failure(let b)):
        guard a.code == .badPayload, b.code == .badPayload else { fatalError("unexpected codes \(a) / \(b)") }
    default:
        fatalError("parser \(fast) but reference \(reference)")
    }
    return 0
}
