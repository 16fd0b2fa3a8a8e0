import Foundation
import MillwrightCore

/// Roboflow inference responses (hosted API and `inference` server):
/// `{"inference_id"?, "time", "image": {"width", "height"}, "predictions": [{"x", "y", "width",
/// "height", "confidence", "class", "class_id", "detection_id"?, …}]}` with `x`, `y` the box
/// CENTRE in pixels. Instance-segmentation and keypoint responses have the same fields (points
/// are ignored). Classification responses: `predictions` items without a box (single-label), or
/// an object `{class: {"confidence", "class_id"}}` with `predicted_classes` (multi-label: only
/// the predicted classes become detections). An array of responses is accepted too.
///
/// `time` is the inference duration, not a timestamp: the timestamp is `receivedAt` (or a
/// non-standard top-level `timestamp`). The camera comes from the context.
///
/// detection_id: `rf:<detection_id>` when the prediction has one; else
/// `rf:<inference_id>:<index>`; else a content hash (see `StableID.forContent`).
enum RoboflowAdapter {
    static func decode(_ json: JSONValue, context: AdapterContext) -> [ItemResult] {
        forEachPayload(json, context: context, expected: "a Roboflow inference response (object)") { f, _ in
            response(f, context: context)
        }
    }

    static func response(_ f: Fields, context: AdapterContext) -> [ItemResult] {
        let image: ImageRef?
        let timestamp: Date?
        let inferenceId: String?
        do throws(FieldProblem) {
            if let i = try f.optObject("image") {
                image = ImageRef(width: try i.optPixels("width"), height: try i.optPixels("height"))
            } else { image = nil }
            timestamp = try optionalTimestamp(f)
            inferenceId = try f.optId("inference_id")
        } catch {
            return [.failure(Rejection(error))]
        }
        let digest = StableID.digest(.object(f.o), camera: context.cameraId)

        // Multi-label classification: predictions is an object keyed by class.
        if let map = f["predictions"]?.objectValue {
            let predicted = f["predicted_classes"]?.arrayValue?.compactMap(\.stringValue)
            let classes = (predicted ?? map.keys.sorted()).filter { map[$0] != nil }
            guard classes.count <= context.maxItems else { return [tooMany(classes.count, context: context)] }
            return classes.enumerated().map { index, cls in
                item {
                    let p = try Fields(map[cls], path: f.name("predictions.\(cls.prefix(64))"))
                    let id = inferenceId.map { StableID.make(.roboflow, [$0, String(index)]) }
                        ?? StableID.forContent(.roboflow, payloadDigest: digest, index: index, context: context)
                    return try Finish.detection(Draft(
                        label: cls, labelField: f.name("predictions.\(cls.prefix(64))"), confidence: try p.number("confidence"),
                        timestamp: timestamp, image: image, detectionId: id), format: .roboflow, context: context)
                }
            }
        }

        let predictions: [JSONValue]
        do throws(FieldProblem) {
            guard let p = try f.optArray("predictions") else { throw FieldProblem(field: f.name("predictions"), "is required") }
            predictions = p
        } catch {
            return [.failure(Rejection(error))]
        }
        guard predictions.count <= context.maxItems else { return [tooMany(predictions.count, context: context)] }
        return predictions.enumerated().map { index, value in
            item {
                let p = try Fields(value, path: f.name("predictions[\(index)]"))
                let label = try p.optString("class") ?? p.string("class_name")
                let confidence = try p.number("confidence")
                var bbox: BoundingBox?
                let boxKeys = ["x", "y", "width", "height"]
                let present = boxKeys.filter { p.has($0) }
                if present.count == 4 {
                    let cx = try p.number("x"), cy = try p.number("y")
                    let w = try p.number("width"), h = try p.number("height")
                    guard w >= 0, h >= 0 else { throw FieldProblem(field: p.name("width"), "width and height must not be negative") }
                    bbox = BoundingBox(x: cx - w / 2, y: cy - h / 2, width: w, height: h)   // centre -> top-left
                } else if !present.isEmpty {
                    throw FieldProblem(field: p.path, "has \(present.joined(separator: ", ")) but not all of x, y, width, height")
                }
                let id: String
                if let detectionId = try p.optId("detection_id"), !detectionId.isEmpty {
                    id = StableID.make(.roboflow, [detectionId])
                } else if let inferenceId, !inferenceId.isEmpty {
                    id = StableID.make(.roboflow, [inferenceId, String(index)])
                } else {
                    id = StableID.forContent(.roboflow, payloadDigest: digest, index: index, context: context)
                }
                return try Finish.detection(Draft(
                    label: label, labelField: p.name("class"), confidence: confidence, timestamp: timestamp,
                    bbox: bbox, image: image, trackingId: try p.optId("tracker_id"), detectionId: id),
                    format: .roboflow, context: context)
            }
        }
    }
}
