import Foundation
import Testing
import MillwrightCore
@testable import Ingest

/// `mqtt.sources[].assumed_confidence` / `?assumed_confidence=`: used only when the payload has
/// no detector score, and named exactly when it is needed and missing.
@Suite struct AssumedConfidenceTests {
    static let hint = "set mqtt.sources[].assumed_confidence (MQTT) or ?assumed_confidence= (REST)"

    @Test func deepStreamMinimalWithoutConfidenceNamesTheOptionAndUsesIt() throws {
        let payload = try JSONValue.parse(Data("""
        {"version": "4.0", "id": "77", "@timestamp": "2026-11-21T02:14:00.123Z", "sensorId": "CAM-07",
         "objects": ["1187|412|220|476|238|Crack", "1188|10|10|20|20|Crack|#|attr|-0.1", "1189|10|10|20|20|Crack|#|attr|0.91"]}
        """.utf8))
        let refused = Adapters.decode(payload, format: .deepstream, context: context())
        #expect(refused[0].problem?.problem.problem.contains(Self.hint) == true)
        #expect(refused[1].problem?.problem.problem.contains(Self.hint) == true)
        let kept = detections(Adapters.decode(payload, format: .deepstream, context: context(assumed: 0.7)))
        // Only the objects without a score take the assumed one.
        #expect(kept.map(\.confidence) == [0.7, 0.7, 0.91])
    }

    @Test func cocoAnnotationWithoutScoreNamesTheOptionAndUsesIt() throws {
        let payload = try JSONValue.parse(Data("""
        {"images": [{"id": 1, "file_name": "f.jpg", "width": 640, "height": 480}],
         "categories": [{"id": 1, "name": "crack"}],
         "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}, {"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.88}]}
        """.utf8))
        let refused = Adapters.decode(payload, format: .coco, context: context(camera: "CAM-07"))
        let problem = try #require(refused[0].problem)
        #expect(problem.problem.field == "annotations[0].score")
        #expect(problem.problem.problem.contains(Self.hint))
        let kept = detections(Adapters.decode(payload, format: .coco, context: context(camera: "CAM-07", assumed: 0.65)))
        #expect(kept.map(\.confidence) == [0.65, 0.88])
    }
}
