import Foundation
import Testing
import MillwrightCore
@testable import Ingest

@Suite struct LandingLensTests {
    @Test func cloudBackbonePredictions() throws {
        let ds = detections(Adapters.decode(try fixture("landinglens/cloud_object_detection.json"), format: .landinglens, context: context(camera: "CAM-07")))
        #expect(ds.count == 2)   // the OK/NG post-processing step is not a detection
        #expect(ds[0].detectionId == "ll:196f6705-4486-42e4-8b48-325bba622f18")
        #expect(ds[0].bbox == BoundingBox(x: 1523, y: 1417, width: 459, height: 384))
        #expect(ds[0].defectClass == "screw" && ds[0].sourceLabel == "Screw")
        #expect(ds[0].confidence == 0.9939298629760742)
        #expect(ds[0].model == ModelInfo(name: "landinglens", version: "a24d15b0-3822-4602-a544-720a0097aa36"))
        #expect(ds[1].defectClass == "scratch")
        #expect(ds.allSatisfy { $0.cameraId == "CAM-07" && $0.timestamp == receivedAt && $0.sourceFormat == "landinglens" })
    }

    @Test func edgePredictionsWithDefectId() throws {
        let d = try #require(detections(Adapters.decode(try fixture("landinglens/edge_object_detection.json"), format: nil, context: context(camera: "CAM-07"))).first)
        #expect(d.bbox == BoundingBox(x: 1332, y: 200, width: 584, height: 584))
        #expect(d.defectClass == "porosity")
        #expect(d.detectionId == "ll:e2a909fb-5d65-44c9-8cf1-09f999a3bc96")
    }

    @Test func classificationOnly() throws {
        let payload = try fixture("landinglens/classification.json")
        let d = try #require(detections(Adapters.decode(payload, format: nil, context: context(camera: "CAM-07"))).first)
        #expect(d.bbox == nil && d.defectClass == "burr" && d.confidence == 0.9951885938644409)
        let again = try #require(detections(Adapters.decode(payload, format: nil, context: context(camera: "CAM-07"))).first)
        #expect(d.detectionId == again.detectionId)
        let ok = try #require(Adapters.decode(try fixture("landinglens/classification_ok.json"), format: nil, context: context(camera: "CAM-07")).first?.problem)
        #expect(ok.kind == .notADetection)
    }
}

@Suite struct COCOTests {
    @Test func resultsWithCategoryMap() throws {
        let results = Adapters.decode(try fixture("coco/results.json"), format: .coco,
                                      context: context(camera: "CAM-07", coco: [1: "Crack", 4: "spall"]))
        let ds = detections(results)
        #expect(ds.count == 3)
        #expect(ds[0].defectClass == "crack" && ds[0].sourceLabel == "Crack")
        #expect(ds[0].bbox == BoundingBox(x: 412.18, y: 220.03, width: 64.32, height: 18.71))
        #expect(ds[0].confidence == 0.912)
        #expect(ds[1].defectClass == "spall")
        #expect(ds[2].defectClass == "category-9" && ds[2].sourceLabel == "9")   // no name: kept, not dropped
        #expect(ds.allSatisfy { $0.cameraId == "CAM-07" && $0.timestamp == receivedAt })
        #expect(Set(ds.compactMap(\.detectionId)).count == 3)
        let again = detections(Adapters.decode(try fixture("coco/results.json"), format: .coco, context: context(camera: "CAM-07")))
        #expect(again.map(\.detectionId) == ds.map(\.detectionId))
    }

    @Test func datasetWrapperCategoriesAndImageSize() throws {
        let d = try #require(detections(Adapters.decode(try fixture("coco/dataset_wrapper.json"), format: nil, context: context(camera: "CAM-07"))).first)
        #expect(d.defectClass == "corrosion" && d.sourceLabel == "Rust")
        #expect(d.image == ImageRef(width: 1920, height: 1080))
        #expect(d.bbox == BoundingBox(x: 1880, y: 1060, width: 40, height: 20))   // 1 px overshoot clipped
    }

    @Test func badItems() throws {
        let payload = try json("""
        [{"image_id":1,"category_id":1.5,"bbox":[1,2,3,4],"score":0.9},
         {"image_id":1,"category_id":1,"bbox":[1,2,3],"score":0.9},
         {"image_id":1,"category_id":1,"bbox":[1,2,"3",4],"score":0.9},
         {"category_id":1,"bbox":[1,2,3,4],"score":0.9},
         {"image_id":1,"category_id":1,"bbox":[1,2,0,4],"score":0.9}]
        """)
        let results = Adapters.decode(payload, format: .coco, context: context(camera: "CAM-07"))
        #expect(results.count == 5 && results.allSatisfy { $0.problem?.kind == .invalid })
        #expect(results[2].problem?.problem.field == "[2].bbox[2]")
    }
}

@Suite struct NativeTests {
    @Test func singleObjectKeepsEverything() throws {
        let d = try #require(detections(Adapters.decode(try fixture("native/single.json"), format: .native, context: context())).first)
        #expect(d.detectionId == "CAM-07-1795227240123-0")
        #expect(d.defectClass == "crack" && d.sourceLabel == nil)
        #expect(d.zone == "head-pulley" && d.productionOrder == "PO-4471" && d.shift == "B")
        #expect(d.measurements == ["length_mm": 12.5])
        #expect(d.sourceFormat == "native")
    }

    @Test func batchIsValidatedPerItem() throws {
        let results = Adapters.decode(try fixture("native/batch_mixed.json"), format: nil, context: context())
        #expect(results.count == 3)
        #expect(results[0].detection?.defectClass == "crack" && results[0].detection?.sourceLabel == "Crack")
        #expect(results[1].problem?.index == 1 && results[1].problem?.problem.field == "confidence")
        #expect(results[2].problem?.index == 2 && results[2].problem?.problem.field == "camera_id")
        // camera from the context fills the gap
        let filled = Adapters.decode(try fixture("native/batch_mixed.json"), format: nil, context: context(camera: "CAM-09"))
        #expect(filled[2].detection?.cameraId == "CAM-09")
        #expect(filled[0].detection?.cameraId == "CAM-07")
    }
}
