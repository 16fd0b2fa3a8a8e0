import Foundation
import MillwrightCore
import MillwrightTesting
import Store
import Testing

/// What quality analytics and the threshold replay read, on every backend: verdicts from the
/// API and from CMMS closures, acknowledgement and completion times, and a replay with the
/// configured rules that opens what ingest opened.
@Suite(.sharedPostgres) struct AnalyticsStoreTests {
    let now = Date()

    func rules(confirm: Int = 1) -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = (0..<3).map { CameraMapping(camera: "CAM-\($0)", asset: "A\($0)", cmms: "sb") }
        var crack = DefectRule()
        crack.minConfidence = 0.5
        crack.confirmDetections = confirm
        s.defects["crack"] = crack
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil))
    }

    func det(_ id: String, camera: Int, conf: Double, at offset: TimeInterval) -> Detection {
        Detection(detectionId: id, cameraId: "CAM-\(camera)", timestamp: now.addingTimeInterval(offset), defectClass: "crack", confidence: conf,
                  model: ModelInfo(name: "yolo", version: "8"))
    }

    @Test(arguments: StoreBackend.all)
    func verdictsFromTheAPIAndTheCMMSAreCounted(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules()
        let a = try await store.ingest([det("a", camera: 0, conf: 0.9, at: -300)], rules: r, now: now.addingTimeInterval(-300))
        let b = try await store.ingest([det("b", camera: 1, conf: 0.6, at: -200)], rules: r, now: now.addingTimeInterval(-200))
        let c = try await store.ingest([det("c", camera: 2, conf: 0.8, at: -100)], rules: r, now: now.addingTimeInterval(-100))
        _ = try await store.ingest([det("low", camera: 2, conf: 0.2, at: -50)], rules: r, now: now.addingTimeInterval(-50))
        let ia = try #require(a.first?.incidentId), ib = try #require(b.first?.incidentId), ic = try #require(c.first?.incidentId)
        _ = try await store.acknowledge(workOrderId: try #require(a.first?.workOrderId), by: "tech", signature: nil, now: now.addingTimeInterval(-240))
        _ = try await store.feedback(incidentId: ia, falsePositive: false, by: "planner", note: nil, signature: nil, now: now)
        _ = try await store.applyCMMSStatus(workOrderId: try #require(b.first?.workOrderId), status: .falsePositive, now: now)
        _ = try await store.applyCMMSStatus(workOrderId: try #require(c.first?.workOrderId), status: .completed, now: now)

        let facts = try await store.analyticsFacts(since: now.addingTimeInterval(-3600), limit: 100, models: true)
        #expect(facts.detections.map(\.id) == ["a", "b", "c", "low"], "oldest first")
        #expect(!facts.truncated)
        #expect(facts.detections.allSatisfy { $0.model == "yolo@8" })
        let byId = Dictionary(uniqueKeysWithValues: facts.incidents.map { ($0.id, $0) })
        #expect(byId[ia]?.verdict == .confirmed)
        #expect(byId[ib]?.verdict == .falsePositive, "a CMMS closure as false positive counts as a verdict")
        #expect(byId[ic]?.verdict == nil && byId[ic]?.resolution == .completed)

        let report = QualityReport.compute(detections: facts.detections, incidents: facts.incidents, by: .defectClass,
                                           since: now.addingTimeInterval(-3600), until: now, truncated: facts.truncated)
        let crack = try #require(report.groups.first)
        #expect(crack.detections == 4 && crack.incidents == 3 && crack.confirmed == 1 && crack.falsePositive == 1 && crack.unjudged == 1)
        #expect(crack.precision?.value == 0.5)
        let ack = try #require(crack.medianSecondsToAcknowledge)
        #expect(abs(ack - 60) < 1, "acknowledged 60 s after it opened")
        #expect(crack.medianSecondsToComplete != nil)

        let truncated = try await store.analyticsFacts(since: now.addingTimeInterval(-3600), limit: 2, models: false)
        #expect(truncated.truncated && truncated.detections.map(\.id) == ["c", "low"], "the newest within the limit")
    }

    @Test(arguments: StoreBackend.all)
    func replayingWithTheConfiguredRulesOpensWhatIngestOpened(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules(confirm: 2)
        // Camera 0 confirms (two in 10 s), camera 1 does not (one), camera 2 confirms twice with a gap.
        var opened = Set<String>()
        for (id, cam, t) in [("p0", 0, -500.0), ("p1", 0, -498.0), ("p2", 0, -496.0), ("q0", 1, -400.0), ("r0", 2, -300.0), ("r1", 2, -299.0)] {
            for o in try await store.ingest([det(id, camera: cam, conf: 0.9, at: t)], rules: r, now: now.addingTimeInterval(t)) { if let w = o.workOrderId { opened.insert(w) } }
        }
        let facts = try await store.analyticsFacts(since: now.addingTimeInterval(-3600), limit: 1000, models: false)
        let result = SimulationResult.compare(facts.detections, incidents: facts.replayIncidents, settings: r.settings, proposals: [])
        #expect(result.workOrdersNow == opened.count)
        #expect(result.workOrdersNow == 2)
        #expect(result.medianSecondsToWorkOrderNow.map { abs($0 - 1.5) < 0.01 } == true, "2 s and 1 s of confirmation")
        let stricter = SimulationResult.compare(facts.detections, incidents: facts.replayIncidents, settings: r.settings,
                                                proposals: [ThresholdProposal(defectClass: "crack", confirmDetections: 3)])
        #expect(stricter.workOrdersProposed == 1 && stricter.workOrdersAvoided == 1)
    }
}
