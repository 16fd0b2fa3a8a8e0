import Foundation
import MillwrightCore

/// Millwright's own schema (PRODUCT §4): one object or an array of objects, read by
/// `NativeDetection.parse`.
///
/// - A missing `camera_id` is filled from `context.cameraId`; with `preferContextCamera` the
///   context camera replaces the payload's.
/// - `defect_class` is passed through unchanged unless `labelMap` maps it to something else;
///   then the mapped class is used and the original is kept in `source_label`.
/// - `detection_id` is the sender's; none is invented (the native schema makes it optional).
enum NativeAdapter {
    static func decode(_ json: JSONValue, context: AdapterContext) -> [ItemResult] {
        switch json {
        case .array(let a):
            guard a.count <= context.maxItems else { return [tooMany(a.count, context: context)] }
            return a.map { one($0, context: context) }
        default:
            return [one(json, context: context)]
        }
    }

    static func one(_ value: JSONValue, context: AdapterContext) -> ItemResult {
        item {
            var value = value
            if var o = value.objectValue, let cam = context.cameraId, !cam.isEmpty {
                let missing = o["camera_id"] == nil || o["camera_id"] == .null
                if missing || context.preferContextCamera { o["camera_id"] = .string(cam); value = .object(o) }
            }
            var d = try NativeDetection.parse(value)
            if context.hasMapping(forLabel: d.defectClass) {
                let mapped = context.defectClass(forLabel: d.defectClass)
                if mapped != d.defectClass { d.sourceLabel = d.defectClass; d.defectClass = mapped }
            }
            d.sourceFormat = VisionFormat.native.rawValue
            return d
        }
    }
}
