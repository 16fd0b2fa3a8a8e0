import Foundation
import MillwrightCore

/// COCO detection results: `[{"image_id", "category_id", "bbox": [x, y, width, height],
/// "score"}]` (pixels, top-left origin), as written by most detectors' COCO evaluation output.
/// Also accepted: the dataset-style wrapper `{"annotations": [...], "categories": [{"id",
/// "name"}], "images": [{"id", "width", "height"}]}`, whose categories and image sizes are used.
///
/// Label: `context.cocoCategories[category_id]` (or the wrapper's category name), then
/// `labelMap`; a category with no name becomes the defect class `category-<id>`, with the id in
/// `source_label`. The camera comes from the context; timestamp `receivedAt` (or a non-standard
/// per-item `timestamp`). `segmentation`, `area`, `iscrowd` are ignored.
///
/// detection_id: `coco:h<hash>` of camera, `image_id` and the item's canonical content (or
/// `coco:m:<messageKey>:<index>`): the same result line always yields the same id.
enum COCOAdapter {
    static func decode(_ json: JSONValue, context: AdapterContext) -> [ItemResult] {
        var categories = context.cocoCategories
        var images: [String: ImageRef] = [:]
        let results: [JSONValue]
        switch json {
        case .array(let a):
            results = a
        case .object(let o):
            let f = Fields(o)
            do throws(FieldProblem) {
                guard let a = try f.optArray("annotations") else { throw FieldProblem(field: "annotations", "is required") }
                results = a
                for (i, c) in (try f.optArray("categories") ?? []).prefix(100_000).enumerated() {
                    let cf = try Fields(c, path: "categories[\(i)]")
                    if let id = try cf.optNumber("id"), id.rounded() == id, abs(id) < 1e15, let name = try cf.optString("name") {
                        categories[Int(id)] = categories[Int(id)] ?? name
                    }
                }
                for (i, img) in (try f.optArray("images") ?? []).prefix(100_000).enumerated() {
                    let imf = try Fields(img, path: "images[\(i)]")
                    if let id = try imf.optId("id") {
                        images[id] = ImageRef(width: try imf.optPixels("width"), height: try imf.optPixels("height"))
                    }
                }
            } catch {
                return [.failure(Rejection(error))]
            }
        default:
            return [.failure(Rejection(FieldProblem(field: nil, "must be an array of COCO results, got \(json.typeName)")))]
        }
        guard results.count <= context.maxItems else { return [tooMany(results.count, context: context)] }
        let prefix = json.arrayValue == nil ? "annotations" : ""
        return results.enumerated().map { index, value in
            item {
                let f = try Fields(value, path: prefix.isEmpty ? "[\(index)]" : "\(prefix)[\(index)]")
                guard let imageId = try f.optId("image_id") else { throw FieldProblem(field: f.name("image_id"), "is required") }
                let categoryValue = try f.number("category_id")
                guard categoryValue.rounded() == categoryValue, abs(categoryValue) < 1e15 else {
                    throw FieldProblem(field: f.name("category_id"), "must be a whole number")
                }
                let category = Int(categoryValue)
                guard let b = f["bbox"]?.arrayValue, b.count == 4 else {
                    throw FieldProblem(field: f.name("bbox"), "must be [x, y, width, height]")
                }
                var n: [Double] = []
                for (i, e) in b.enumerated() { n.append(try Fields.number(e, field: f.name("bbox[\(i)]"))) }
                // Ground-truth style annotations carry no score.
                let confidence = try f.optNumber("score") ?? Finish.assumed(context, field: f.name("score"),
                    why: "is missing: the annotation carries no detector score")
                let name = categories[category]
                var draft = Draft(
                    label: name ?? "category-\(category)", labelField: f.name("category_id"), confidence: confidence,
                    timestamp: try optionalTimestamp(f), bbox: BoundingBox(x: n[0], y: n[1], width: n[2], height: n[3]),
                    image: images[imageId])
                var itemText = ""
                Canonical.write(value, into: &itemText)
                draft.detectionId = context.messageKey.map { StableID.make(.coco, ["m", $0, String(index)]) }
                    ?? "coco:h" + StableID.hash("cam=\(context.cameraId ?? "");img=\(imageId);\(itemText)")
                var d = try Finish.detection(draft, format: .coco, context: context)
                if name == nil { d.sourceLabel = String(category) }
                return d
            }
        }
    }
}
