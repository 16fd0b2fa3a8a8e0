import Foundation
import MillwrightCore

/// NVIDIA DeepStream `nvmsgconv` payloads (checked against `sources/libs/nvmsgconv/
/// deepstream_schema/eventmsg_payload.cpp` and `dsmeta_payload.cpp`).
///
/// Full schema — one object per message:
/// `{"messageid", "mdsversion", "@timestamp", "sensor": {"id", …}, "analyticsModule": {"id",
/// "source", "version", …}, "object": {"id": "<tracking id>", "<type>": {"confidence", …},
/// "bbox": {"topleftx", "toplefty", "bottomrightx", "bottomrighty"}, …}, "event": {"type"}}`.
/// `<type>` is `vehicle`/`person`/`face` (event-msg API) or the object's label (frame-meta
/// API). A custom `object.label` / `object.confidence` is used when present.
///
/// Minimal schema — several objects per frame:
/// `{"version": "4.0", "id": "<frame>", "@timestamp", "sensorId", "objects": ["trackingId|left|
/// top|right|bottom|label", "…|label|#|attr|…|attr|confidence"]}`. The confidence is only
/// present after `|#|` (secondary attributes / classifier labels).
///
/// Confidence −0.1 is DeepStream's "never set" (e.g. tracker-only frames): it is treated as
/// missing. Missing confidence uses `context.assumedConfidence` or rejects the object.
/// Untracked objects carry tracking id 2^64−1; that is not kept as a tracking id.
///
/// detection_id: full `ds:<messageid>:<object.id>`; minimal `ds:<sensorId>:<frame id>:
/// <@timestamp ms>:<tracking id or #index>` (all from the message, so redelivery repeats it).
enum DeepStreamAdapter {
    static let untracked = "18446744073709551615"
    static let objectKeysNotType: Set<String> = [
        "id", "speed", "direction", "orientation", "bbox", "location", "coordinate", "maskoutline",
        "signature", "confidence", "label", "parentId", "embedding", "pose", "attributes", "objConfidence",
    ]

    static func decode(_ json: JSONValue, context: AdapterContext) -> [ItemResult] {
        forEachPayload(json, context: context, expected: "a DeepStream nvmsgconv message (object)") { f, path in
            if f["objects"] != nil && f["object"] == nil { return minimal(f, path: path, context: context) }
            return [full(f, context: context)]
        }
    }

    // MARK: full schema

    static func full(_ f: Fields, context: AdapterContext) -> ItemResult {
        item {
            let timestamp = try Timestamps.parse(f["@timestamp"], field: f.name("@timestamp"))
            let sensor = try f.optObject("sensor")
            let camera = try sensor?.optId("id")
            guard let object = try f.optObject("object") else {
                throw FieldProblem(field: f.name("object"), "is required (the detected object)")
            }
            let tracking = try object.optId("id").flatMap { $0.isEmpty || $0 == untracked ? nil : $0 }

            // Label: custom `object.label`, else the single type sub-object's key.
            let typeKey = object.o.keys.sorted().first { k in
                !objectKeysNotType.contains(k) && object.o[k]?.objectValue != nil
            }
            let label: String
            let labelField: String
            if let l = try object.optString("label"), !l.isEmpty {
                label = l; labelField = object.name("label")
            } else if let typeKey {
                label = typeKey; labelField = object.name(typeKey)
            } else {
                throw FieldProblem(field: object.name("label"), "is missing: the object has no type sub-object (vehicle, person, face or the label) and no label")
            }

            // Confidence: object.confidence, else object.<type>.confidence; −0.1 means never set.
            var confidence: Double?
            var confidenceField = object.name("confidence")
            if let c = try object.optNumber("confidence"), c >= 0 { confidence = c }
            if confidence == nil, let typeKey, let sub = try object.optObject(typeKey) {
                confidenceField = sub.name("confidence")
                if let c = try sub.optNumber("confidence"), c >= 0 { confidence = c }
            }
            let score = try confidence ?? Finish.assumed(context, field: confidenceField,
                why: "is missing or −0.1 (DeepStream's \"never set\", e.g. an object kept by the tracker without a detector score); no confidence to judge the detection by")

            var bbox: BoundingBox?
            if let b = try object.optObject("bbox") {
                let x1 = try b.number("topleftx"), y1 = try b.number("toplefty")
                let x2 = try b.number("bottomrightx"), y2 = try b.number("bottomrighty")
                if !(x1 == 0 && y1 == 0 && x2 == 0 && y2 == 0) {   // all zero: box not set
                    bbox = try Finish.corners(x1, y1, x2, y2, field: b.path)
                }
            }

            var model: ModelInfo?
            if let m = try f.optObject("analyticsModule") {
                let name = [try m.optId("id"), try m.optString("source"), try m.optString("description")]
                    .compactMap { $0 }.first { !$0.isEmpty }
                let version = try m.optId("version").flatMap { $0.isEmpty ? nil : $0 }
                if name != nil || version != nil { model = ModelInfo(name: name, version: version) }
            }

            let id: String
            if let messageId = try f.optId("messageid"), !messageId.isEmpty {
                id = StableID.make(.deepstream, [messageId, tracking ?? "-"])
            } else {
                id = StableID.forContent(.deepstream, payloadDigest: StableID.digest(.object(f.o), camera: camera), index: 0, context: context)
            }
            return try Finish.detection(Draft(
                label: label, labelField: labelField, confidence: score, camera: camera, timestamp: timestamp,
                bbox: bbox, model: model, trackingId: tracking, detectionId: id), format: .deepstream, context: context)
        }
    }

    // MARK: minimal schema

    static func minimal(_ f: Fields, path: String, context: AdapterContext) -> [ItemResult] {
        let objects: [JSONValue]
        let timestamp: Date
        let camera: String?
        let frame: String?
        do throws(FieldProblem) {
            guard let a = try f.optArray("objects") else { throw FieldProblem(field: f.name("objects"), "is required") }
            objects = a
            timestamp = try Timestamps.parse(f["@timestamp"], field: f.name("@timestamp"))
            let sensorId = try f.optId("sensorId")
            if let sensorId { camera = sensorId } else { camera = try f.optId("sensor") }
            frame = try f.optId("id")
        } catch {
            return [.failure(Rejection(error))]
        }
        guard objects.count <= context.maxItems else { return [tooMany(objects.count, context: context)] }
        let ms = StableID.millis(timestamp.timeIntervalSince1970)
        return objects.enumerated().map { i, value in
            item {
                let field = f.name("objects[\(i)]")
                guard let s = value.stringValue else {
                    throw FieldProblem(field: field, "must be a string \"trackingId|left|top|right|bottom|label[|#|…|confidence]\", got \(value.typeName)")
                }
                guard s.utf8.count <= 4096 else { throw FieldProblem(field: field, "is longer than 4096 bytes") }
                let parts = s.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 6 else {
                    throw FieldProblem(field: field, "has \(parts.count) '|'-separated fields; expected trackingId|left|top|right|bottom|label")
                }
                func coordinate(_ k: Int, _ name: String) throws(FieldProblem) -> Double {
                    guard let v = Double(parts[k].trimmingCharacters(in: .whitespaces)), v.isFinite else {
                        throw FieldProblem(field: field, "\(name) '\(parts[k].prefix(32))' is not a number")
                    }
                    return v
                }
                let left = try coordinate(1, "left"), top = try coordinate(2, "top")
                let right = try coordinate(3, "right"), bottom = try coordinate(4, "bottom")
                let tracking = parts[0].trimmingCharacters(in: .whitespaces)
                let trackingId = tracking.isEmpty || tracking == untracked ? nil : tracking

                var confidence: Double?
                if parts.count > 7, parts[6] == "#", let c = Double(parts[parts.count - 1].trimmingCharacters(in: .whitespaces)),
                   c.isFinite, c >= 0 {
                    confidence = c
                }
                let score = try confidence ?? Finish.assumed(context, field: field,
                    why: "carries no confidence: the minimal schema only appends one after '|#|' when secondary attributes or classifiers are present (or it is −0.1, never set); use the full schema")
                let bbox: BoundingBox? = (left == 0 && top == 0 && right == 0 && bottom == 0)
                    ? nil : try Finish.corners(left, top, right, bottom, field: field)
                let id = StableID.make(.deepstream, [camera ?? "-", frame ?? "-", ms, trackingId ?? "#\(i)"])
                return try Finish.detection(Draft(
                    label: parts[5], labelField: field, confidence: score, camera: camera, timestamp: timestamp,
                    bbox: bbox, trackingId: trackingId, detectionId: id), format: .deepstream, context: context)
            }
        }
    }
}
