import Foundation
import MillwrightCore

/// LandingAI LandingLens inference responses (docs.landing.ai "JSON responses"; landingai-python
/// `_CloudExtractor` / `_EdgeExtractor`).
///
/// - Cloud object detection: `{"backbonetype": "ObjectDetectionPrediction",
///   "backbonepredictions": {"<uuid>": {"score", "labelName", "labelIndex", "defect_id",
///   "coordinates": {"xmin", "ymin", "xmax", "ymax"}}}, "type": "ClassificationPrediction",
///   "predictions": {"labelName": "NG", …}, "latency", "model_id"}` — the backbone predictions
///   are the detections; the OK/NG post-processing step is not.
/// - LandingEdge / Docker object detection: `{"type": "ObjectDetectionPrediction",
///   "predictions": {"<uuid>": {…same, `defect_id` or `defectId`…}}}`.
/// - Classification (cloud or edge): `{"type": "ClassificationPrediction", "predictions":
///   {"labelName", "labelIndex", "score"}}` with no backbone → one detection without a box;
///   the label `OK` (LandingLens's "good part") is reported as `not_a_detection`.
/// - Segmentation: `predictions.bitmaps` `{"<id>": {"score", "label_name"|"labelName", …}}` →
///   one detection per bitmap without a box (the mask is not kept).
///
/// Map entries are taken in key order so that indices are deterministic. The camera comes from
/// the context; timestamp `receivedAt` (or a non-standard top-level `timestamp`).
/// detection_id: `ll:<prediction uuid>`; classification `ll:h<content hash>`.
enum LandingLensAdapter {
    static func decode(_ json: JSONValue, context: AdapterContext) -> [ItemResult] {
        forEachPayload(json, context: context, expected: "a LandingLens inference response (object)") { f, _ in
            response(f, context: context)
        }
    }

    static func response(_ f: Fields, context: AdapterContext) -> [ItemResult] {
        let timestamp: Date?
        let model: ModelInfo?
        do throws(FieldProblem) {
            timestamp = try optionalTimestamp(f)
            model = try f.optId("model_id").map { ModelInfo(name: "landinglens", version: $0) }
        } catch { return [.failure(Rejection(error))] }

        let backboneType = f["backbonetype"]?.stringValue
        let type = f["type"]?.stringValue
        let digest = StableID.digest(.object(f.o), camera: context.cameraId)

        if let backbone = f["backbonepredictions"] {
            guard let map = backbone.objectValue else {
                return [.failure(Rejection(FieldProblem(field: f.name("backbonepredictions"), "must be an object of predictions, got \(backbone.typeName)")))]
            }
            if backboneType == "SegmentationPrediction" {
                return segmentation(backbone, path: f.name("backbonepredictions"), timestamp: timestamp, model: model, context: context)
            }
            return objects(map, path: f.name("backbonepredictions"), timestamp: timestamp, model: model, context: context)
        }
        guard let predictions = f["predictions"] else {
            return [.failure(Rejection(FieldProblem(field: f.name("predictions"), "is required (or backbonepredictions)")))]
        }
        switch type {
        case "ClassificationPrediction":
            return [item {
                let p = try Fields(predictions, path: f.name("predictions"))
                let label = try p.string("labelName")
                if label.trimmingCharacters(in: .whitespaces).uppercased() == "OK" {
                    throw Rejection.notADetection(p.name("labelName"), "is OK: LandingLens classified the image as good (no defect)")
                }
                return try Finish.detection(Draft(
                    label: label, labelField: p.name("labelName"), confidence: try p.number("score"),
                    timestamp: timestamp, model: model,
                    detectionId: StableID.forContent(.landinglens, payloadDigest: digest, index: 0, context: context)),
                    format: .landinglens, context: context)
            }]
        case "SegmentationPrediction":
            return segmentation(predictions, path: f.name("predictions"), timestamp: timestamp, model: model, context: context)
        default:
            guard let map = predictions.objectValue else {
                return [.failure(Rejection(FieldProblem(field: f.name("predictions"), "must be an object of predictions, got \(predictions.typeName)")))]
            }
            return objects(map, path: f.name("predictions"), timestamp: timestamp, model: model, context: context)
        }
    }

    static func objects(_ map: [String: JSONValue], path: String, timestamp: Date?, model: ModelInfo?, context: AdapterContext) -> [ItemResult] {
        guard map.count <= context.maxItems else { return [tooMany(map.count, context: context)] }
        return map.keys.sorted().map { key in
            item {
                let p = try Fields(map[key], path: "\(path).\(key.prefix(64))")
                let c = try Fields(p["coordinates"], path: p.name("coordinates"))
                let bbox = try Finish.corners(try c.number("xmin"), try c.number("ymin"), try c.number("xmax"), try c.number("ymax"), field: c.path)
                return try Finish.detection(Draft(
                    label: try p.string("labelName"), labelField: p.name("labelName"), confidence: try p.number("score"),
                    timestamp: timestamp, bbox: bbox, model: model,
                    detectionId: StableID.make(.landinglens, [key])), format: .landinglens, context: context)
            }
        }
    }

    static func segmentation(_ predictions: JSONValue, path: String, timestamp: Date?, model: ModelInfo?, context: AdapterContext) -> [ItemResult] {
        guard let bitmaps = predictions["bitmaps"]?.objectValue else {
            return [.failure(Rejection(FieldProblem(field: "\(path).bitmaps", "is required for a segmentation response")))]
        }
        guard bitmaps.count <= context.maxItems else { return [tooMany(bitmaps.count, context: context)] }
        return bitmaps.keys.sorted().map { key in
            item {
                let p = try Fields(bitmaps[key], path: "\(path).bitmaps.\(key.prefix(64))")
                let label = try p.optString("label_name") ?? p.string("labelName")
                return try Finish.detection(Draft(
                    label: label, labelField: p.name("label_name"), confidence: try p.number("score"),
                    timestamp: timestamp, model: model, detectionId: StableID.make(.landinglens, [key])),
                    format: .landinglens, context: context)
            }
        }
    }
}
