import Foundation
import Testing
@testable import MillwrightCore

@Suite struct EscalationTests {
    let t0 = utc("2026-11-18T14:00:00Z")
    let policy = EscalationPolicy([
        .critical: [EscalationStage(recipients: ["T-114", "supervisor"], delay: 0),
                    EscalationStage(recipients: ["maintenance-manager"], delay: 15 * 60),
                    EscalationStage(recipients: ["plant-manager"], delay: 30 * 60)],
        .high: [EscalationStage(recipients: ["T-114"], delay: 0), EscalationStage(recipients: ["supervisor"], delay: 3600)],
    ])

    @Test func stagesFireAtTheirTimesOnAnInjectedClock() {
        var e = Escalation(workOrder: "WO-1", priority: .critical, policy: policy, startedAt: t0)
        #expect(e.nextDue == t0)
        #expect(e.tick(t0).map(\.recipients) == [["T-114", "supervisor"]])
        #expect(e.tick(t0.addingTimeInterval(60)) == [])
        #expect(e.nextDue == t0.addingTimeInterval(900))
        #expect(e.tick(t0.addingTimeInterval(899.999)) == [])
        let s1 = e.tick(t0.addingTimeInterval(900))
        #expect(s1 == [EscalationNotice(workOrder: "WO-1", stage: 1, recipients: ["maintenance-manager"], dueAt: t0.addingTimeInterval(900))])
        #expect(s1[0].isEscalation)
        #expect(e.nextDue == t0.addingTimeInterval(2700))
        #expect(e.tick(t0.addingTimeInterval(2700)).map(\.stage) == [2])
        #expect(e.state == .exhausted)
        #expect(e.nextDue == nil)
        #expect(e.tick(t0.addingTimeInterval(99999)) == [])
    }

    @Test func acknowledgementStopsTheChain() {
        var e = Escalation(workOrder: "WO-1", priority: .critical, policy: policy, startedAt: t0)
        _ = e.tick(t0)
        let first = e.acknowledged(at: t0.addingTimeInterval(600), by: "T-114")
        let second = e.acknowledged(at: t0.addingTimeInterval(700), by: "someone-else")
        #expect(first && !second)
        #expect(e.state == .acknowledged(at: t0.addingTimeInterval(600), by: "T-114"))
        #expect(e.tick(t0.addingTimeInterval(10_000)) == [])
        #expect(e.nextDue == nil)
    }

    @Test func cmmsInProgressCountsAsAcknowledgement() {
        var e = Escalation(workOrder: "WO-2", priority: .high, policy: policy, startedAt: t0)
        _ = e.tick(t0)
        let notYet = e.cmmsStatus(inProgress: false, at: t0.addingTimeInterval(100))
        #expect(!notYet)
        #expect(e.tick(t0.addingTimeInterval(3599)) == [])
        let started = e.cmmsStatus(inProgress: true, at: t0.addingTimeInterval(3599))
        #expect(started)
        #expect(e.state == .acknowledged(at: t0.addingTimeInterval(3599), by: "cmms"))
        #expect(e.tick(t0.addingTimeInterval(3600)) == [])
    }

    @Test func ackBeforeAnOverdueTickSendsNothing() {
        // Stage 1 became due at +15 min but the gateway was down; the ack at +20 min wins.
        var e = Escalation(workOrder: "WO-3", priority: .critical, policy: policy, startedAt: t0)
        _ = e.tick(t0)
        e.acknowledged(at: t0.addingTimeInterval(1200), by: "api")
        #expect(e.tick(t0.addingTimeInterval(1300)) == [])
    }

    @Test func catchUpAfterDowntimeSendsEveryOverdueStageInOrder() {
        var e = Escalation(workOrder: "WO-4", priority: .critical, policy: policy, startedAt: t0)
        let all = e.tick(t0.addingTimeInterval(3 * 3600))
        #expect(all.map(\.stage) == [0, 1, 2])
        #expect(all.map(\.dueAt) == [t0, t0.addingTimeInterval(900), t0.addingTimeInterval(2700)])
    }

    @Test func noChainNoEscalationAndStateSurvivesPersistence() throws {
        var low = Escalation(workOrder: "WO-5", priority: .low, policy: policy, startedAt: t0)
        #expect(low.state == .exhausted && low.tick(t0.addingTimeInterval(1e6)) == [])
        var e = Escalation(workOrder: "WO-6", priority: .critical, policy: policy, startedAt: t0)
        _ = e.tick(t0)
        var restored = try JSONDecoder().decode(Escalation.self, from: JSONEncoder().encode(e))
        #expect(restored == e)
        #expect(restored.tick(t0.addingTimeInterval(900)).map(\.stage) == [1])
    }
}
