import Foundation
import Testing
import MillwrightCore
@testable import Ingest

@Suite struct DeepStreamTests {
    @Test func fullSchemaFrameMetaMapsEveryField() throws {
        let results = Adapters.decode(try fixture("deepstream/full_framemeta_crack.json"), format: .deepstream, context: context())
        let d = try #require(detections(results).first)
        #expect(results.count == 1)
        #expect(d.cameraId == "CAM-07")
        #expect(d.timestamp == iso("2026-11-21T02:14:00.123Z"))
        #expect(d.defectClass == "crack")          // "Crack" via labelMap
        #expect(d.sourceLabel == "Crack")
        #expect(approx(d.confidence, 0.9312))
        #expect(d.bbox == BoundingBox(x: 412, y: 220, width: 64, height: 18))   // bottom-right -> size
        #expect(d.trackingId == "1187")
        #expect(d.model == ModelInfo(name: "weld-yolo", version: "3.2"))
        #expect(d.sourceFormat == "deepstream")
        #expect(d.detectionId == "ds:3f0c4a8e-6a1d-4b57-9d2e-1c8b7f3a9e21:1187")
    }

    @Test func fullSchemaEventMsgVehicleUnknownLabelKeptLowercased() throws {
        let d = try #require(detections(Adapters.decode(try fixture("deepstream/full_eventmsg_vehicle.json"), format: .deepstream, context: context())).first)
        #expect(d.defectClass == "vehicle")
        #expect(d.sourceLabel == "vehicle")
        #expect(approx(d.confidence, 0.62))
        #expect(d.cameraId == "CAM-09")
        #expect(d.bbox == BoundingBox(x: 585, y: 472, width: 57, height: 46))
        #expect(d.trackingId == "957")
    }

    @Test func minusPointOneConfidenceIsNeverSet() throws {
        let payload = try fixture("deepstream/full_unset_confidence.json")
        let p = try #require(Adapters.decode(payload, format: .deepstream, context: context()).first?.problem)
        #expect(p.kind == .invalid)
        #expect(p.problem.field == "object.Crack.confidence")
        #expect(p.problem.problem.contains("−0.1"))
        // With an assumed confidence configured the object is kept.
        let d = try #require(detections(Adapters.decode(payload, format: .deepstream, context: context(assumed: 0.5))).first)
        #expect(d.confidence == 0.5)
        #expect(d.trackingId == "1187")
    }

    @Test func objectConfidenceWinsOverUnsetTypeConfidence() throws {
        let d = try #require(detections(Adapters.decode(try fixture("deepstream/full_object_confidence.json"), format: .deepstream, context: context())).first)
        #expect(approx(d.confidence, 0.87))
        #expect(d.defectClass == "corrosion")   // "Rust" -> labelMap key "rust", case-insensitive
        #expect(d.sourceLabel == "Rust")
    }

    @Test func minimalSchemaWithConfidence() throws {
        let results = Adapters.decode(try fixture("deepstream/minimal_with_confidence.json"), format: .deepstream, context: context())
        let ds = detections(results)
        #expect(ds.count == 5)
        #expect(ds[0].bbox == BoundingBox(x: 412.5, y: 220, width: 63.75, height: 18))
        #expect(approx(ds[0].confidence, 0.93))
        #expect(ds[0].defectClass == "crack")
        #expect(ds[0].trackingId == "1187")
        #expect(ds[0].cameraId == "CAM-07")
        #expect(ds[0].timestamp == iso("2026-11-21T02:14:00.123Z"))
        #expect(ds[1].defectClass == "corrosion")
        #expect(ds[2].trackingId == nil)                 // 2^64-1 = untracked
        #expect(approx(ds[3].confidence, 0.8))           // vehicle attributes, confidence last
        #expect(approx(ds[4].confidence, 0.66))          // face: empty attribute field
        #expect(Set(ds.compactMap(\.detectionId)).count == 5)
        #expect(ds[0].detectionId == "ds:CAM-07:10452:1795227240123:1187")
    }

    @Test func minimalSchemaWithoutConfidence() throws {
        let payload = try fixture("deepstream/minimal_without_confidence.json")
        let results = Adapters.decode(payload, format: .deepstream, context: context())
        #expect(results.count == 2)
        let p0 = try #require(results[0].problem)
        #expect(p0.index == 0 && p0.problem.field == "objects[0]")
        #expect(p0.problem.problem.contains("no confidence"))
        #expect(results[1].problem?.index == 1)        // "|#|…|-0.1" = never set
        let assumed = detections(Adapters.decode(payload, format: .deepstream, context: context(assumed: 0.75)))
        #expect(assumed.map(\.confidence) == [0.75, 0.75])
        #expect(assumed[0].bbox == BoundingBox(x: 413, y: 220, width: 64, height: 18))
    }

    @Test func cameraFromContextWhenPreferred() throws {
        let payload = try fixture("deepstream/minimal_with_confidence.json")
        let ds = detections(Adapters.decode(payload, format: .deepstream, context: context(camera: "LINE2-HEAD", preferContext: true)))
        #expect(ds.allSatisfy { $0.cameraId == "LINE2-HEAD" })
        let fallback = detections(Adapters.decode(payload, format: .deepstream, context: context(camera: "LINE2-HEAD")))
        #expect(fallback.allSatisfy { $0.cameraId == "CAM-07" })
    }

    @Test func hostileMinimalObjects() throws {
        let payload = try json("""
        {"version":"4.0","id":1,"@timestamp":"2026-11-21T02:14:00Z","sensorId":"CAM-07","objects":[
          "1|nan|2|3|4|crack|#|0.9", "1|inf|2|3|4|crack|#|0.9", "1|2|3", 17, "1|50|50|10|10|crack|#|0.9",
          "1|1|1|5|5||#|0.9", "1|1|1|5|5|crack|#|NaN", null, "1|1|1|5|5|crack|#|x|1e999"
        ]}
        """)
        let results = Adapters.decode(payload, format: .deepstream, context: context())
        #expect(results.count == 9)
        #expect(results.allSatisfy { $0.problem != nil })
        #expect(results.enumerated().allSatisfy { $0.element.problem?.index == $0.offset })
    }
}
