import Foundation
import MillwrightCore
import Store
import Testing

/// The window is defined once, in Core (`ConfirmationWindow`). The store's SQL must select
/// exactly the detections Core's definition selects: random histories, clustered on the
/// window's edges (t − w, t + w, ±1 ms) where a `<=` for `<` would show.
@Suite struct ConfirmationWindowPropertyTests {
    @Test func theSnapshotSQLSelectsExactlyWhatTheCoreWindowSelects() async throws {
        var rng = SplitMix64(seed: 0x5EED_2026)
        for round in 0..<12 {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-window-\(UUID().uuidString)").path
            let store = try Store(path: dir + "/db.sqlite")
            let widthMillis = Int64(1 + rng.next() % 20) * 500
            var s = Settings()
            s.assets.cameras = [CameraMapping(camera: "CAM-1", asset: "A1")]
            var rule = DefectRule()
            rule.minConfidence = 0.5
            rule.confirmDetections = 10_000 // nothing confirms: every qualifying detection stays pending
            rule.confirmWithin = .milliseconds(widthMillis)
            s.defects["crack"] = rule
            let rules = PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil))

            let center: Int64 = 1_790_000_000_000 + Int64(rng.next() % 1_000_000)
            let edges = [center - widthMillis, center + widthMillis]
            var detections: [Detection] = []
            for i in 0..<80 {
                let near = edges[Int(rng.next() % 2)] + Int64(rng.next() % 5) - 2
                let anywhere = center + Int64(rng.next() % UInt64(4 * widthMillis)) - 2 * widthMillis
                let ts = rng.next() % 2 == 0 ? near : anywhere
                let zone = ["z1", "z1", "z1", "z2"][Int(rng.next() % 4)]
                let defect = rng.next() % 5 == 0 ? "corrosion" : "crack"
                let confidence = [0.3, 0.6, 0.9][Int(rng.next() % 3)]
                detections.append(Detection(detectionId: "r\(round)-d\(i)", cameraId: "CAM-1", timestamp: Timestamps.date(millis: ts),
                                            defectClass: defect, confidence: confidence, zone: zone))
            }
            let outcomes = try await store.ingest(detections, rules: rules, now: Date())

            let probe = Detection(cameraId: "CAM-1", timestamp: Timestamps.date(millis: center), defectClass: "crack", confidence: 0.9, zone: "z1")
            guard case .key(let query, _) = IncidentDecision.query(for: probe, id: "probe", rules: rules) else {
                Issue.record("the probe should map to an asset"); return
            }
            let expected = zip(detections, outcomes).filter { d, o in
                o.status == .pendingConfirmation && d.defectClass == "crack" && d.zone == "z1" && query.window.contains(d.timestamp)
            }.map { $0.0.detectionId! }
            let loaded = try await store.snapshot(for: query).pending.map(\.id)
            #expect(Set(loaded) == Set(expected), "round \(round): width \(widthMillis) ms")
            #expect(loaded.count == expected.count)
            // The edges themselves: the lower one is in, the upper one is out.
            #expect(query.window.contains(millis: center - widthMillis))
            #expect(!query.window.contains(millis: center + widthMillis))
            try? FileManager.default.removeItem(atPath: dir)
        }
    }
}
