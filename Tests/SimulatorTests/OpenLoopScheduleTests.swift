import Testing

@testable import Simulator

@Suite("Open-loop schedule")
struct OpenLoopScheduleTests {
    @Test("holds the rate: request i is due at i / rate")
    func holdsRate() {
        let schedule = OpenLoopSchedule(rate: 100)
        #expect(schedule.offset(ofRequest: 0) == .zero)
        #expect(schedule.offset(ofRequest: 1) == .milliseconds(10))
        #expect(schedule.offset(ofRequest: 250) == .milliseconds(2500))
        #expect(schedule.requestCount(before: .seconds(1)) == 100)
        #expect(schedule.requestCount(before: .seconds(60)) == 6000)
    }

    @Test("counts the request due exactly at the end as outside the run")
    func boundary() {
        let schedule = OpenLoopSchedule(rate: 4)
        // Due at 0, 0.25, 0.5, 0.75: four before 1 s, the fifth (at 1 s) is not.
        #expect(schedule.requestCount(before: .seconds(1)) == 4)
        #expect(schedule.requestCount(before: .milliseconds(1)) == 1)
        #expect(schedule.requestCount(before: .zero) == 0)
    }

    @Test("ramps linearly: half the steady count over the ramp, then the full rate")
    func rampUp() {
        let schedule = OpenLoopSchedule(rate: 1000, rampUp: .seconds(10))
        let inRamp = schedule.requestCount(before: .seconds(10))
        #expect(abs(inRamp - 5000) <= 1)
        let next = schedule.requestCount(before: .seconds(11))
        #expect(abs(next - inRamp - 1000) <= 1)
        // The instantaneous rate at 5 s is half the target: 500 requests in 4.5…5.5 s.
        let middle =
            schedule.requestCount(before: .milliseconds(5500)) - schedule.requestCount(before: .milliseconds(4500))
        #expect(abs(middle - 500) <= 2)
    }

    @Test("send times never go backwards and do not depend on answers")
    func monotonic() {
        let schedule = OpenLoopSchedule(rate: 333, rampUp: .seconds(3))
        var previous = Duration.zero
        for index in 0..<5000 {
            let offset = schedule.offset(ofRequest: index)
            #expect(offset >= previous)
            previous = offset
        }
        // Same input, same answer: the schedule has no state that answers could change.
        #expect(
            schedule.offset(ofRequest: 4321) == OpenLoopSchedule(rate: 333, rampUp: .seconds(3)).offset(ofRequest: 4321)
        )
    }

    @Test("picks an evenly spread share of devices")
    func evenSelection() {
        let chosen = (0..<1000).filter { EvenSelection.isSelected($0, fraction: 0.1) }
        #expect(chosen.count == 100)
        #expect(zip(chosen, chosen.dropFirst()).allSatisfy { $1 - $0 == 10 })
        #expect(!(0..<50).contains { EvenSelection.isSelected($0, fraction: 0) })
        #expect((0..<50).allSatisfy { EvenSelection.isSelected($0, fraction: 1) })
    }
}

@Suite("Chaos roles")
struct ChaosRoleTests {
    @Test("skewed, revoked and corrupt-sending devices are different devices")
    func disjoint() {
        for devices in [100, 200, 1000] {
            let skewed = Set(
                (0..<devices).filter { EvenSelection.isSelected($0, fraction: 0.1, phase: EvenSelection.skewPhase) })
            let revoked = Set((0..<devices).filter { Simulation.isRevocationCandidate($0, fraction: 0.1) })
            let corrupt = Set(
                (0..<(devices * 30)).filter {
                    EvenSelection.isSelected($0, fraction: 0.02, phase: EvenSelection.corruptPhase)
                }
                .map { $0 % devices }
            )
            #expect(skewed.count == devices / 10 && revoked.count == devices / 10)
            #expect(skewed.isDisjoint(with: revoked))
            #expect(corrupt.isDisjoint(with: revoked), "\(devices) devices")
        }
    }
}
