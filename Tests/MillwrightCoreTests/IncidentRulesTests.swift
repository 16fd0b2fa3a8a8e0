import Foundation
import MillwrightCore
import Testing

@Suite struct IncidentRulesTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    func detection(conf: Double = 0.9, at offset: TimeInterval = 0) -> Detection {
        Detection(cameraId: "CAM-07", timestamp: t0.addingTimeInterval(offset), defectClass: "crack", confidence: conf)
    }

    var rule: DefectRule {
        var r = DefectRule()
        r.minConfidence = 0.8
        r.confirmDetections = 3
        r.confirmWithin = .seconds(10)
        return r
    }

    @Test func belowThresholdIsNotCounted() {
        let d = IncidentRules.decide(detection: detection(conf: 0.79), rule: rule, history: KeyHistory(qualifyingInWindow: 5), policy: IncidentPolicy(), shadow: false)
        #expect(d == .belowThreshold(minConfidence: 0.8))
        #expect(d.status == .belowThreshold)
    }

    @Test func confirmationNeedsNDetectionsInTheWindow() {
        let first = IncidentRules.decide(detection: detection(), rule: rule, history: KeyHistory(qualifyingInWindow: 0), policy: IncidentPolicy(), shadow: false)
        #expect(first == .pendingConfirmation(have: 1, need: 3))
        let second = IncidentRules.decide(detection: detection(), rule: rule, history: KeyHistory(qualifyingInWindow: 1), policy: IncidentPolicy(), shadow: false)
        #expect(second.status == .pendingConfirmation)
        let third = IncidentRules.decide(detection: detection(), rule: rule, history: KeyHistory(qualifyingInWindow: 2), policy: IncidentPolicy(), shadow: false)
        #expect(third == .openIncident(shadow: false))
        #expect(third.status == .confirmed)
    }

    @Test func repeatsAppendToTheOpenIncident() {
        let d = IncidentRules.decide(detection: detection(), rule: rule, history: KeyHistory(openIncidentId: "inc-1"), policy: IncidentPolicy(), shadow: false)
        #expect(d == .appendToOpen(incidentId: "inc-1"))
        #expect(d.status == .suppressedRepeat)
    }

    @Test func reopenOnlyAfterTheReopenDelay() {
        var policy = IncidentPolicy()
        policy.reopenAfter = .seconds(30 * 60)
        var one = rule
        one.confirmDetections = 1
        let closed = KeyHistory(lastClosedAt: t0, lastClosedIncidentId: "inc-1")
        let early = IncidentRules.decide(detection: detection(at: 29 * 60), rule: one, history: closed, policy: policy, shadow: false)
        #expect(early.status == .suppressedRepeat)
        if case .suppressedAfterClose(let id, let at) = early {
            #expect(id == "inc-1")
            #expect(at == t0.addingTimeInterval(1800))
        } else { Issue.record("expected suppressedAfterClose, got \(early)") }
        let late = IncidentRules.decide(detection: detection(at: 30 * 60), rule: one, history: closed, policy: policy, shadow: false)
        #expect(late == .openIncident(shadow: false))
    }

    @Test func shadowModeDecidesButMarksShadow() {
        var one = rule
        one.confirmDetections = 1
        let d = IncidentRules.decide(detection: detection(), rule: one, history: KeyHistory(), policy: IncidentPolicy(), shadow: true)
        #expect(d == .openIncident(shadow: true))
        #expect(d.status == .shadow)
    }

    @Test func mappingUsesZoneSubAssetAndOrphansUnknowns() {
        let cam = CameraMapping(camera: "CAM-07", asset: "10004711", zones: ["head-pulley": "10004712"], criticality: .a)
        let register = AssetRegister(records: [AssetRecord(assetId: "10004711", line: 2), AssetRecord(assetId: "10004712", name: "Head pulley", line: 3)])
        let mapper = AssetMapper(cameras: [cam, CameraMapping(camera: "CAM-05", asset: "999")], register: register)
        var d = detection()
        d.zone = "head-pulley"
        guard case .mapped(let m) = mapper.map(d) else { Issue.record("expected mapped"); return }
        #expect(m.key == IncidentKey(asset: "10004712", defectClass: "crack", zone: "head-pulley"))
        #expect(m.registerEntry?.name == "Head pulley")
        d.zone = "tail"
        guard case .mapped(let m2) = mapper.map(d) else { Issue.record("expected mapped"); return }
        #expect(m2.key.asset == "10004711")
        d.cameraId = "CAM-99"
        guard case .orphaned(let why) = mapper.map(d) else { Issue.record("expected orphan"); return }
        #expect(why.contains("CAM-99"))
        d.cameraId = "CAM-05"
        guard case .orphaned(let why2) = mapper.map(d) else { Issue.record("expected orphan"); return }
        #expect(why2.contains("not in the CMMS asset register"))
    }

    @Test func lifecycleTransitions() {
        var l = IncidentLifecycle()
        #expect(l.apply(.workOrderCreated) == .moved(from: .open, to: .dispatched))
        #expect(l.apply(.cmmsStatus(.open)) == .unchanged)
        #expect(l.apply(.cmmsStatus(.inProgress)) == .moved(from: .dispatched, to: .inProgress))
        #expect(l.apply(.cmmsStatus(.completed)) == .moved(from: .inProgress, to: .closed))
        #expect(l.resolution == .completed)
        #expect(l.apply(.feedback(falsePositive: true)) == .unchanged)
        var fp = IncidentLifecycle()
        #expect(fp.apply(.feedback(falsePositive: false)) == .unchanged)
        #expect(fp.apply(.feedback(falsePositive: true)) == .moved(from: .open, to: .closed))
        #expect(fp.resolution == .falsePositive)
    }
}
