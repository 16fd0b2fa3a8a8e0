import Foundation
import MillwrightCore
import Testing

/// The replay behind `POST /v1/analytics/simulate` and the suggested thresholds.
@Suite struct ThresholdReplayTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    var settings: Settings {
        var s = Settings()
        var crack = DefectRule()
        crack.minConfidence = 0.5
        s.defects["crack"] = crack
        return s
    }

    func det(_ id: String, asset: String = "A1", camera: String = "CAM-1", conf: Double, at offset: TimeInterval, incident: String?) -> DetectionFact {
        DetectionFact(id: id, camera: camera, defectClass: "crack", zone: "", asset: asset, model: nil,
                      timestampMillis: Timestamps.millis(t0.addingTimeInterval(offset)), confidence: conf, incidentId: incident)
    }

    func real(_ id: String, at offset: TimeInterval, closed: TimeInterval?, _ verdict: Verdict?) -> ReplayIncident {
        ReplayIncident(id: id, openedAt: t0.addingTimeInterval(offset), closedAt: closed.map { t0.addingTimeInterval($0) }, verdict: verdict)
    }

    /// Three real incidents on three assets: a real defect seen at 0.7, a false positive at 0.6,
    /// a real defect at 0.95.
    var history: ([DetectionFact], [String: ReplayIncident]) {
        let d = [
            det("d1", asset: "A1", conf: 0.7, at: 0, incident: "i1"),
            det("d2", asset: "A2", conf: 0.6, at: 10, incident: "i2"),
            det("d3", asset: "A3", camera: "CAM-3", conf: 0.95, at: 20, incident: "i3"),
        ]
        return (d, ["i1": real("i1", at: 0, closed: 3600, .confirmed), "i2": real("i2", at: 10, closed: 60, .falsePositive),
                    "i3": real("i3", at: 20, closed: nil, .confirmed)])
    }

    @Test func theConfiguredRulesReproduceWhatHappened() {
        let (d, i) = history
        let r = SimulationResult.compare(d, incidents: i, settings: settings, proposals: [])
        #expect(r.workOrdersNow == 3 && r.workOrdersProposed == 3)
        #expect(r.workOrdersAvoided == 0 && r.workOrdersCreated == 0 && r.falsePositivesAvoided == 0 && r.trueDefectsLost == 0)
    }

    @Test func aHigherThresholdAvoidsTheFalsePositiveAndThenLosesARealDefect() {
        let (d, i) = history
        let mild = SimulationResult.compare(d, incidents: i, settings: settings, proposals: [ThresholdProposal(defectClass: "crack", minConfidence: 0.65)])
        #expect(mild.workOrdersProposed == 2 && mild.workOrdersAvoided == 1)
        #expect(mild.falsePositivesAvoided == 1 && mild.trueDefectsLost == 0)
        let harsh = SimulationResult.compare(d, incidents: i, settings: settings, proposals: [ThresholdProposal(defectClass: "crack", minConfidence: 0.9)])
        #expect(harsh.workOrdersProposed == 1)
        #expect(harsh.trueDefectsLost == 1 && harsh.lostIncidents == ["i1"])
    }

    @Test func aCameraProposalWinsOverTheClassOneForThatCameraOnly() {
        let (d, i) = history
        let r = SimulationResult.compare(d, incidents: i, settings: settings, proposals: [
            ThresholdProposal(defectClass: "crack", minConfidence: 0.99),
            ThresholdProposal(defectClass: "crack", camera: "CAM-3", minConfidence: 0.9),
        ])
        #expect(r.workOrdersProposed == 1, "only CAM-3's 0.95 passes its own 0.9")
        #expect(r.lostIncidents == ["i1"])
    }

    @Test func confirmationDelaysTheWorkOrderAndItsMedianShows() {
        // One key seen at 0.8 every 2 s; today one detection opens the work order.
        let d = (0..<3).map { det("d\($0)", conf: 0.8, at: Double($0) * 2, incident: "i1") }
        let i = ["i1": real("i1", at: 0, closed: nil, .confirmed)]
        let r = SimulationResult.compare(d, incidents: i, settings: settings, proposals: [
            ThresholdProposal(defectClass: "crack", confirmDetections: 3, confirmWithin: .seconds(10)),
        ])
        #expect(r.workOrdersNow == 1 && r.workOrdersProposed == 1 && r.trueDefectsLost == 0)
        #expect(r.medianSecondsToWorkOrderNow == 0)
        #expect(r.medianSecondsToWorkOrderProposed == 4)
        #expect(r.medianSecondsToWorkOrderChange == 4)
    }

    @Test func repeatsAfterTheRealClosureOpenAgainOnlyAfterReopenAfter() {
        // A defect closed at 100 s and seen again at 200 s (suppressed: reopen_after is 30 min)
        // and at 4000 s (a new work order), as ingest would decide.
        let d = [det("a", conf: 0.8, at: 0, incident: "i1"), det("b", conf: 0.8, at: 200, incident: "i1"), det("c", conf: 0.8, at: 4000, incident: "i2")]
        let i = ["i1": real("i1", at: 0, closed: 100, .confirmed), "i2": real("i2", at: 4000, closed: nil, nil)]
        let r = SimulationResult.compare(d, incidents: i, settings: settings, proposals: [])
        #expect(r.workOrdersNow == 2)
    }

    @Test func theSuggestionIsTheHighestThresholdThatKeepsEveryConfirmedDefect() throws {
        let (d, i) = history
        let s = try #require(ThresholdSuggestion.suggest(d, incidents: i, settings: settings).first)
        #expect(s.defectClass == "crack" && s.current == 0.5)
        #expect(s.suggested == 0.7, "the weakest confirmed defect was seen at 0.7")
        #expect(s.result.trueDefectsLost == 0 && s.result.falsePositivesAvoided == 1)
        #expect(s.yaml == "defects:\n  crack:\n    min_confidence: 0.700\n")
    }

    @Test func badProposalsNameTheirField() {
        let p = ThresholdProposal(defectClass: "", minConfidence: 1.5, confirmDetections: 0)
        let fields = p.problems(index: 2).map(\.field)
        #expect(fields == ["proposals[2].defect_class", "proposals[2].min_confidence", "proposals[2].confirm.detections"])
    }
}
