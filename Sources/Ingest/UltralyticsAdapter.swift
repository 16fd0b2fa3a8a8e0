import Foundation
import MillwrightCore

/// Ultralytics YOLO results as written by `Results.to_json()` / `summary()`:
/// `[{"name", "class", "confidence", "box": {"x1", "y1", "x2", "y2"}, "track_id"?,
/// "segments"?, "keypoints"?}]`. Also accepted: a list of such lists (one per image), oriented
/// boxes (`box` with `x1…x4`, `y1…y4`: the axis-aligned hull is used, clamped at the top/left edge) and classification results
/// (no `box`: a detection without a box). `segments`/`keypoints` are ignored.
///
/// The results carry no camera (from the context), no time (`receivedAt`, or a non-standard
/// per-item `timestamp`) and no image size. Boxes written with `normalize=True` (all
/// coordinates within 0…1) cannot be turned into pixels and are rejected with that reason.
///
/// detection_id: `ul:h<hash>` of the camera, the whole payload's canonical content and the
/// item's position — or `ul:m:<messageKey>:<index>` when the transport gives a message key.
/// Caveat: two byte-identical result lists from the same camera (same boxes and scores to the
/// 5th decimal) get the same ids and are stored once.
enum UltralyticsAdapter {
    static func decode(_ json: JSONValue, context: AdapterContext) -> [ItemResult] {
        guard let top = json.arrayValue else {
            if let o = json.objectValue { return [one(Fields(o), digest: StableID.digest(json, camera: context.cameraId), index: 0, context: context)] }
            return [.failure(Rejection(FieldProblem(field: nil, "must be an array of Ultralytics results, got \(json.typeName)")))]
        }
        // Flatten one level (list of per-image lists), keeping payload order.
        var flat: [(JSONValue, String)] = []
        for (i, e) in top.enumerated() {
            if let inner = e.arrayValue {
                for (j, x) in inner.enumerated() {
                    flat.append((x, "[\(i)][\(j)]"))
                    if flat.count > context.maxItems { return [tooMany(flat.count, context: context)] }
                }
            } else {
                flat.append((e, "[\(i)]"))
                if flat.count > context.maxItems { return [tooMany(flat.count, context: context)] }
            }
        }
        let digest = StableID.digest(json, camera: context.cameraId)
        return flat.enumerated().map { index, pair in
            guard let o = pair.0.objectValue else {
                return .failure(Rejection(FieldProblem(field: pair.1, "must be an object {name, class, confidence, box}, got \(pair.0.typeName)")))
            }
            return one(Fields(o, path: pair.1), digest: digest, index: index, context: context)
        }
    }

    static func one(_ f: Fields, digest: String, index: Int, context: AdapterContext) -> ItemResult {
        item {
            let label = try f.string("name")
            let confidence = try f.number("confidence")
            var bbox: BoundingBox?
            if let box = try f.optObject("box") {
                var xs: [Double] = [], ys: [Double] = []
                for k in 1...4 {
                    if let x = try box.optNumber("x\(k)") { xs.append(x) }
                    if let y = try box.optNumber("y\(k)") { ys.append(y) }
                }
                guard xs.count >= 2, xs.count == ys.count else {
                    throw FieldProblem(field: box.path, "must have x1, y1, x2, y2 (or x1…x4, y1…y4 for oriented boxes)")
                }
                if (xs + ys).allSatisfy({ $0 >= 0 && $0 <= 1 }) {
                    throw FieldProblem(field: box.path, "looks normalized (all coordinates within 0…1); send pixel coordinates (to_json(normalize=False), the default)")
                }
                // The hull of a rotated box may reach past the top/left edge: clamp it there.
                let oriented = xs.count == 4
                let x1 = oriented ? max(0, xs.min()!) : xs.min()!, y1 = oriented ? max(0, ys.min()!) : ys.min()!
                bbox = try Finish.corners(x1, y1, xs.max()!, ys.max()!, field: box.path)
            }
            let tracking = try f.optId("track_id")
            return try Finish.detection(Draft(
                label: label, labelField: f.name("name"), confidence: confidence,
                timestamp: try optionalTimestamp(f), bbox: bbox, trackingId: tracking,
                detectionId: StableID.forContent(.ultralytics, payloadDigest: digest, index: index, context: context)),
                format: .ultralytics, context: context)
        }
    }
}
