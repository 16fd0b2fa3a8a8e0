import Foundation
import MillwrightCore

/// Frigate NVR MQTT messages (docs/docs/integrations/mqtt.md; publish code in
/// frigate/track/object_processing.py).
///
/// `frigate/events` — `{"type": "new"|"update"|"end", "before": {…}, "after": {…}}`, one
/// tracked object per event id. Frigate publishes `new` when the object stops being a false
/// positive, `update` when it finds a better snapshot or a zone changes, `end` when tracking
/// ends. Older versions (≤ 0.13) send `snapshot_time` and a string `sub_label`; 0.14+ send a
/// `snapshot` object (`frame_time`, `box`, `score`) and `sub_label` as `[name, score]`. Both are
/// read.
///
/// Event policy
/// - Only `after` (the object's current state) is read. `after.false_positive == true` is
///   reported as `not_a_detection` ("Frigate marked it a false positive"), never a detection.
///   (`before` of a `new` message is normally a false positive: that is expected.)
/// - Every other `new`/`update`/`end` message maps to a detection whose id is
///   `frigate:<event id>:<snapshot identity>`; the snapshot identity is the best snapshot's
///   frame time in ms (`snapshot.frame_time`, or `snapshot_time` on old versions), falling back
///   to `s<top_score>` when there is no snapshot yet. So messages that carry a new best snapshot / top score become new
///   detections, while zone-only updates, the `end` message and MQTT redeliveries repeat an id
///   the store already holds and are stored once. No message is dropped on the strength of an
///   earlier message having arrived, so a lost `new` (QoS 0) loses nothing.
/// - confidence = `top_score` (what Frigate itself thresholds on), else `score`; box =
///   `snapshot.box` when present (it matches the snapshot image), else `box`; timestamp = the
///   snapshot's frame time, else `frame_time`, else `start_time`; zone = first of
///   `current_zones`, else last of `entered_zones`; tracking id = event id; image.url =
///   `<frigateBaseURL>/api/events/<id>/snapshot.jpg` when `has_snapshot` is true.
///
/// `frigate/reviews` messages and `tracked_object_update` messages (face, lpr, …) carry no
/// score and box of their own: each is reported as `not_a_detection` pointing at
/// `frigate/events`.
enum FrigateAdapter {
    static func decode(_ json: JSONValue, context: AdapterContext) -> [ItemResult] {
        forEachPayload(json, context: context, expected: "a Frigate MQTT message (object)") { f, _ in
            [message(f, context: context)]
        }
    }

    static func message(_ f: Fields, context: AdapterContext) -> ItemResult {
        item {
            let type = try f.optString("type")
            let after = try f.optObject("after")
            // Review items: severity/data.detections instead of a tracked object.
            if let after, after.has("severity") || after.has("data") {
                let id = (try? after.optId("id")) ?? nil
                throw Rejection.notADetection(f.name("after"),
                    "is a frigate/reviews item\(id.map { " (\($0))" } ?? ""): it carries no score or box; subscribe to frigate/events for the detections it lists")
            }
            if after == nil, f.has("before") == false, let type, Adapters.frigateUpdateTypes.contains(type) {
                throw Rejection.notADetection(f.name("type"),
                    "'\(type)' is a Frigate tracked_object_update (recognition result), not a detection; subscribe to frigate/events")
            }
            guard let type else { throw FieldProblem(field: f.name("type"), "is required (new, update or end)") }
            guard ["new", "update", "end"].contains(type) else {
                throw FieldProblem(field: f.name("type"), "'\(type.prefix(32))' is not a frigate/events type (new, update, end)")
            }
            guard let a = after else { throw FieldProblem(field: f.name("after"), "is required (the tracked object's current state)") }
            let eventId = try a.optId("id")
            guard let eventId, !eventId.isEmpty else { throw FieldProblem(field: a.name("id"), "is required (the Frigate event id)") }
            if try a.optBool("false_positive") == true {
                throw Rejection.notADetection(a.name("false_positive"),
                    "is true: Frigate marked tracked object \(eventId.prefix(64)) a false positive; not taken as a detection")
            }
            let camera = try a.string("camera")
            let label = try a.string("label")

            // Confidence.
            let confidence: Double
            if let top = try a.optNumber("top_score") { confidence = top }
            else if let score = try a.optNumber("score") { confidence = score }
            else { throw FieldProblem(field: a.name("top_score"), "is required (or score)") }

            // Snapshot (0.14+) or snapshot_time (older).
            let snapshot = try a.optObject("snapshot")
            let snapshotTime = try (snapshot?.optNumber("frame_time") ?? a.optNumber("snapshot_time")).flatMap { $0 > 0 ? $0 : nil }

            var bbox: BoundingBox?
            if let box = snapshot?["box"] {
                bbox = try corners(box, field: snapshot!.name("box"))
            } else if let box = a["box"] {
                bbox = try corners(box, field: a.name("box"))
            }

            let timestamp: Date
            if let snapshot, snapshot.has("frame_time") {
                timestamp = try Timestamps.parse(snapshot["frame_time"], field: snapshot.name("frame_time"))
            } else if a.has("frame_time") {
                timestamp = try Timestamps.parse(a["frame_time"], field: a.name("frame_time"))
            } else {
                timestamp = try Timestamps.parse(a["start_time"], field: a.name("start_time"))
            }

            let zone = try zones(a, "current_zones").first ?? zones(a, "entered_zones").last

            var image: ImageRef?
            if try a.optBool("has_snapshot") == true, let base = context.frigateBaseURL, !base.isEmpty {
                var b = base
                while b.hasSuffix("/") { b.removeLast() }
                var allowed = CharacterSet.urlPathAllowed
                allowed.remove("/")
                let encoded = eventId.addingPercentEncoding(withAllowedCharacters: allowed) ?? eventId
                image = ImageRef(url: "\(b)/api/events/\(encoded)/snapshot.jpg")
            }

            let discriminator = snapshotTime.map { StableID.millis($0) } ?? "s\(confidence)"
            return try Finish.detection(Draft(
                label: label, labelField: a.name("label"), confidence: confidence, camera: camera,
                timestamp: timestamp, bbox: bbox, image: image, zone: zone, trackingId: eventId,
                detectionId: StableID.make(.frigate, [eventId, discriminator])), format: .frigate, context: context)
        }
    }

    /// Frigate boxes are `[x1, y1, x2, y2]` in pixels of the detect stream.
    static func corners(_ v: JSONValue, field: String) throws(FieldProblem) -> BoundingBox {
        guard let a = v.arrayValue, a.count == 4 else {
            throw FieldProblem(field: field, "must be [x1, y1, x2, y2], got \(v.typeName)")
        }
        var n: [Double] = []
        for (i, e) in a.enumerated() { n.append(try Fields.number(e, field: "\(field)[\(i)]")) }
        return try Finish.corners(n[0], n[1], n[2], n[3], field: field)
    }

    static func zones(_ a: Fields, _ key: String) throws(FieldProblem) -> [String] {
        guard let list = try a.optArray(key) else { return [] }
        return list.compactMap(\.stringValue).filter { !$0.isEmpty }
    }
}
