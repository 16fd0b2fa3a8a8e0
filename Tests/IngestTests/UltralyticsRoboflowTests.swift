import Foundation
import Testing
import MillwrightCore
@testable import Ingest

@Suite struct UltralyticsTests {
    @Test func detectResults() throws {
        let results = Adapters.decode(try fixture("ultralytics/detect.json"), format: .ultralytics, context: context(camera: "CAM-07"))
        let ds = detections(results)
        #expect(ds.count == 2)
        #expect(ds[0].defectClass == "crack" && ds[0].sourceLabel == "Crack")
        #expect(ds[0].confidence == 0.91234)
        #expect(approx(ds[0].bbox?.x, 412.18359) && approx(ds[0].bbox?.y, 220.0293))
        #expect(approx(ds[0].bbox?.width, 476.5 - 412.18359) && approx(ds[0].bbox?.height, 238.74219 - 220.0293))
        #expect(ds[1].defectClass == "spall" && ds[1].sourceLabel == "spall")   // unknown label kept
        #expect(ds.allSatisfy { $0.cameraId == "CAM-07" && $0.timestamp == receivedAt && $0.sourceFormat == "ultralytics" })
        #expect(ds[0].detectionId != ds[1].detectionId)
    }

    @Test func trackIdAndSegmentsIgnored() throws {
        let d = try #require(detections(Adapters.decode(try fixture("ultralytics/track_seg.json"), format: .ultralytics, context: context(camera: "CAM-07"))).first)
        #expect(d.trackingId == "17")
        #expect(d.bbox == BoundingBox(x: 100, y: 50, width: 80, height: 20))
    }

    @Test func orientedBoxUsesHull() throws {
        let d = try #require(detections(Adapters.decode(try fixture("ultralytics/obb.json"), format: .ultralytics, context: context(camera: "CAM-07"))).first)
        #expect(d.bbox == BoundingBox(x: 305, y: 200, width: 55, height: 40))
        let edge = try json(#"[{"name":"crack","class":0,"confidence":0.8,"box":{"x1":-6,"y1":10,"x2":30,"y2":4,"x3":36,"y3":40,"x4":0,"y4":46}}]"#)
        let e = try #require(detections(Adapters.decode(edge, format: .ultralytics, context: context(camera: "CAM-07"))).first)
        #expect(e.bbox == BoundingBox(x: 0, y: 4, width: 36, height: 42))
    }

    @Test func classificationHasNoBox() throws {
        let d = try #require(detections(Adapters.decode(try fixture("ultralytics/classify.json"), format: .ultralytics, context: context(camera: "CAM-07"))).first)
        #expect(d.bbox == nil && d.defectClass == "corrosion" && d.confidence == 0.97)
    }

    @Test func normalizedBoxesAreRejectedWithReason() throws {
        let p = try #require(Adapters.decode(try fixture("ultralytics/normalized.json"), format: .ultralytics, context: context(camera: "CAM-07")).first?.problem)
        #expect(p.problem.field == "[0].box" && p.problem.problem.contains("normalized"))
    }

    @Test func batchPerImageFlattensInOrder() throws {
        let ds = detections(Adapters.decode(try fixture("ultralytics/batch_per_image.json"), format: nil, context: context(camera: "CAM-07")))
        #expect(ds.map(\.confidence) == [0.81, 0.83, 0.66])
    }

    @Test func cameraIsRequiredFromContext() throws {
        let p = try #require(Adapters.decode(try fixture("ultralytics/detect.json"), format: .ultralytics, context: context()).first?.problem)
        #expect(p.problem.field == "camera_id" && p.problem.problem.contains("?camera="))
    }

    @Test func idsAreStableAcrossRedeliveryAndDifferPerCameraAndKey() throws {
        let payload = try fixture("ultralytics/detect.json")
        let a = detections(Adapters.decode(payload, format: .ultralytics, context: context(camera: "CAM-07"))).map(\.detectionId)
        let b = detections(Adapters.decode(payload, format: .ultralytics, context: context(camera: "CAM-07", at: receivedAt + 5))).map(\.detectionId)
        let c = detections(Adapters.decode(payload, format: .ultralytics, context: context(camera: "CAM-08"))).map(\.detectionId)
        let k = detections(Adapters.decode(payload, format: .ultralytics, context: context(camera: "CAM-07", messageKey: "req-42"))).map(\.detectionId)
        #expect(a == b)
        #expect(a != c)
        #expect(k == ["ul:m:req-42:0", "ul:m:req-42:1"])
        #expect(a.allSatisfy { $0?.hasPrefix("ul:h") == true && $0!.count == 36 })
    }
}

@Suite struct RoboflowTests {
    @Test func hostedObjectDetectionCentreToTopLeft() throws {
        let ds = detections(Adapters.decode(try fixture("roboflow/hosted_object_detection.json"), format: .roboflow, context: context(camera: "CAM-07")))
        #expect(ds.count == 3)
        #expect(ds[0].bbox == BoundingBox(x: 412, y: 220, width: 64, height: 18))
        #expect(ds[0].image == ImageRef(width: 1920, height: 1080))
        #expect(ds[0].defectClass == "crack" && ds[0].sourceLabel == "Crack")
        #expect(ds[0].confidence == 0.934)
        #expect(ds[0].detectionId == "rf:0b6a3c2e-9a53-4d5f-b0d7-3f3e7e2d9a10")
        // Centre 1900.5±20.5 -> 1880…1921 overshoots a 1920 frame by 1 px: clipped, not rejected.
        #expect(ds[1].bbox == BoundingBox(x: 1880, y: 1059, width: 40, height: 21))
        #expect(ds[1].defectClass == "corrosion")
        #expect(ds[2].defectClass == "delamination" && ds[2].sourceLabel == "Delamination")
        #expect(ds.allSatisfy { $0.timestamp == receivedAt })   // `time` is a duration, not a time
    }

    @Test func inferenceIdWithIndexWhenNoDetectionIds() throws {
        let ds = detections(Adapters.decode(try fixture("roboflow/inference_server_no_detection_ids.json"), format: .roboflow, context: context(camera: "CAM-07")))
        #expect(ds.map(\.detectionId) == ["rf:6e2b7c1a-3f4d-4e5a-9b8c-0d1e2f3a4b5c:0", "rf:6e2b7c1a-3f4d-4e5a-9b8c-0d1e2f3a4b5c:1"])
        #expect(ds[0].bbox == BoundingBox(x: 270, y: 215, width: 100, height: 50))
    }

    @Test func classificationAndMultiLabel() throws {
        let single = detections(Adapters.decode(try fixture("roboflow/classification.json"), format: nil, context: context(camera: "CAM-07")))
        #expect(single.map(\.defectClass) == ["corrosion", "ok"])
        #expect(single.allSatisfy { $0.bbox == nil })
        let multi = detections(Adapters.decode(try fixture("roboflow/multilabel.json"), format: nil, context: context(camera: "CAM-07")))
        #expect(multi.map(\.defectClass) == ["crack", "corrosion"])
        #expect(multi.map(\.confidence) == [0.83, 0.71])
    }

    @Test func partialBoxAndWrongTypes() throws {
        let payload = try json("""
        {"predictions":[{"x":10,"y":10,"confidence":0.9,"class":"crack"},
                        {"x":10,"y":10,"width":5,"height":5,"confidence":"0.9","class":"crack"},
                        {"x":10,"y":10,"width":5,"height":5,"confidence":0.9,"class":7},
                        {"x":10,"y":10,"width":-5,"height":5,"confidence":0.9,"class":"crack"}]}
        """)
        let results = Adapters.decode(payload, format: .roboflow, context: context(camera: "CAM-07"))
        #expect(results.count == 4 && results.allSatisfy { $0.problem?.kind == .invalid })
        #expect(results[1].problem?.problem.field == "predictions[1].confidence")
    }
}
