import Foundation
import Testing
import MillwrightCore
@testable import Ingest

@Suite struct FrigateTests {
    let base = "http://nvr.plant.example:5000/"

    @Test func currentVersionDocsSample() throws {
        let results = Adapters.decode(try fixture("frigate/events_update_docs-HEAD-e3fa7018.json"), format: .frigate, context: context(frigate: base))
        let d = try #require(detections(results).first)
        #expect(results.count == 1)
        #expect(d.cameraId == "front_door")
        #expect(d.defectClass == "person" && d.sourceLabel == "person")
        #expect(d.confidence == 0.958984375)                                   // top_score
        #expect(d.bbox == BoundingBox(x: 415, y: 489, width: 113, height: 211))  // snapshot.box
        #expect(d.timestamp == Date(timeIntervalSince1970: 1607123965.975463))   // snapshot.frame_time
        #expect(d.zone == "yard")                                              // current_zones[0]
        #expect(d.trackingId == "1607123955.475377-mxklsc")
        #expect(d.image == nil)                                                // has_snapshot false
        #expect(d.detectionId == "frigate:1607123955.475377-mxklsc:1607123965975")
        #expect(d.sourceFormat == "frigate")
    }

    @Test func olderVersionWithSnapshotTimeAndStringSubLabel() throws {
        let results = Adapters.decode(try fixture("frigate/events_new_v0.12_crack.json"), format: .frigate, context: context(frigate: base))
        let d = try #require(detections(results).first)
        #expect(d.cameraId == "line2_head_pulley")
        #expect(d.defectClass == "crack" && d.sourceLabel == "Crack")
        #expect(d.confidence == 0.8203125)
        #expect(d.bbox == BoundingBox(x: 413, y: 221, width: 64, height: 18))
        #expect(d.timestamp == Date(timeIntervalSince1970: 1795227240.785112))
        #expect(d.zone == "head-pulley")
        #expect(d.image?.url == "http://nvr.plant.example:5000/api/events/1795227240.118231-k3v9qa/snapshot.jpg")
        #expect(d.detectionId == "frigate:1795227240.118231-k3v9qa:1795227240652")
    }

    @Test func falsePositiveIsReportedNotDetected() throws {
        let results = Adapters.decode(try fixture("frigate/events_update_false_positive.json"), format: .frigate, context: context())
        let p = try #require(results.first?.problem)
        #expect(results.count == 1)
        #expect(p.kind == .notADetection)
        #expect(p.problem.field == "after.false_positive")
        #expect(p.problem.problem.contains("false positive"))
    }

    @Test func reviewsAndRecognitionUpdatesAreNotDetections() throws {
        for name in ["reviews_update_docs-HEAD-e3fa7018.json", "tracked_object_update_face_docs-HEAD-e3fa7018.json",
                     "tracked_object_update_lpr_docs-HEAD-e3fa7018.json"] {
            let payload = try fixture("frigate/\(name)")
            #expect(Adapters.detect(payload) == .frigate, "\(name)")
            let results = Adapters.decode(payload, format: nil, context: context())
            #expect(results.count == 1)
            #expect(results.first?.problem?.kind == .notADetection, "\(name)")
            #expect(results.first?.problem?.problem.problem.contains("frigate/events") == true, "\(name)")
        }
    }

    @Test func idempotentIdsCollapseRepeatsButNotNewSnapshots() throws {
        let raw = try String(decoding: fixtureData("frigate/events_update_docs-HEAD-e3fa7018.json"), as: UTF8.self)
        let first = try #require(detections(Adapters.decode(try json(raw), format: .frigate, context: context())).first)
        let again = try #require(detections(Adapters.decode(try json(raw), format: .frigate, context: context(at: receivedAt + 30))).first)
        #expect(first.detectionId == again.detectionId)   // MQTT redelivery

        // Zone-only update and the final `end` message: same best snapshot -> same id.
        let zoneOnly = raw.replacingOccurrences(of: "\"current_zones\": [\"yard\", \"driveway\"]", with: "\"current_zones\": [\"driveway\"]")
            .replacingOccurrences(of: "\"type\": \"update\"", with: "\"type\": \"end\"")
        let z = try #require(detections(Adapters.decode(try json(zoneOnly), format: .frigate, context: context())).first)
        #expect(z.detectionId == first.detectionId)

        // A better snapshot (new frame time, new top score) -> a new detection.
        let better = raw.replacingOccurrences(of: "1607123965.975463", with: "1607123968.5")
            .replacingOccurrences(of: "0.958984375", with: "0.97265625")
        let b = try #require(detections(Adapters.decode(try json(better), format: .frigate, context: context())).first)
        #expect(b.detectionId != first.detectionId)
        #expect(b.confidence == 0.97265625)
    }

    @Test func malformedEvents() throws {
        let cases = [
            #"{"type":"update","after":{"id":"x","camera":"c","label":"crack","top_score":"0.9","start_time":1795227200}}"#,
            #"{"type":"update","after":{"id":"x","camera":"c","label":"crack","top_score":0.9,"box":[1,2,3],"start_time":1795227200}}"#,
            #"{"type":"update","after":{"id":"x","camera":"c","label":"crack","top_score":0.9,"box":[5,5,1,1],"start_time":1795227200}}"#,
            #"{"type":"explode","after":{"id":"x"}}"#,
            #"{"type":"new","before":{"id":"x"}}"#,
            #"{"type":"new","after":{"camera":"c","label":"crack","top_score":0.9,"start_time":1795227200}}"#,
            #"{"type":"new","after":{"id":"x","camera":"c","label":"crack","top_score":1.5,"start_time":1795227200}}"#,
            #"{"type":"new","after":{"id":"x","camera":"c","label":"crack","top_score":0.9,"start_time":-5}}"#,
        ]
        for c in cases {
            let results = Adapters.decode(try json(c), format: .frigate, context: context())
            #expect(results.count == 1 && results[0].problem?.kind == .invalid, "\(c)")
        }
    }

    @Test func frigateCameraCanBeOverriddenByTopicBinding() throws {
        let d = try #require(detections(Adapters.decode(try fixture("frigate/events_new_v0.12_crack.json"), format: .frigate,
                                                        context: context(camera: "CAM-07", preferContext: true))).first)
        #expect(d.cameraId == "CAM-07")
    }
}
