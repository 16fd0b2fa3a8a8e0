import Foundation
import MillwrightCore

// Shared plumbing for the adapters: typed field access with exact field paths, the draft →
// Detection step (camera, label mapping, box clipping, limits), stable ids.

/// A policy refusal or malformed item, with the kind the caller reports.
struct Rejection: Error {
    var problem: FieldProblem
    var kind: IndexedProblem.Kind
    init(_ problem: FieldProblem, kind: IndexedProblem.Kind = .invalid) { self.problem = problem; self.kind = kind }
    static func notADetection(_ field: String?, _ text: String) -> Rejection {
        Rejection(FieldProblem(field: field, text), kind: .notADetection)
    }
}

typealias ItemResult = Result<Detection, Rejection>

/// Runs one item's mapping and turns whatever it throws into a `Rejection`.
func item(_ body: () throws -> Detection) -> ItemResult {
    do { return .success(try body()) }
    catch let r as Rejection { return .failure(r) }
    catch let p as FieldProblem { return .failure(Rejection(p)) }
    catch { return .failure(Rejection(FieldProblem(field: nil, "could not be read: \(error)"))) }
}

/// Read access to one JSON object that names fields by their full path in the payload.
struct Fields {
    let o: [String: JSONValue]
    let path: String

    init(_ o: [String: JSONValue], path: String = "") { self.o = o; self.path = path }

    /// `value` must be an object; `path` names it in problems.
    init(_ value: JSONValue?, path: String) throws(FieldProblem) {
        guard let value, !value.isNull else { throw FieldProblem(field: path.isEmpty ? nil : path, "is required (an object)") }
        guard let o = value.objectValue else {
            throw FieldProblem(field: path.isEmpty ? nil : path, "must be an object, got \(value.typeName)")
        }
        self.o = o; self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    subscript(_ key: String) -> JSONValue? {
        guard let v = o[key], !v.isNull else { return nil }
        return v
    }

    func has(_ key: String) -> Bool { self[key] != nil }

    func string(_ key: String) throws(FieldProblem) -> String {
        guard let v = self[key] else { throw FieldProblem(field: name(key), "is required") }
        guard let s = v.stringValue else { throw FieldProblem(field: name(key), "must be a string, got \(v.typeName)") }
        return s
    }

    func optString(_ key: String) throws(FieldProblem) -> String? {
        guard let v = self[key] else { return nil }
        guard let s = v.stringValue else { throw FieldProblem(field: name(key), "must be a string, got \(v.typeName)") }
        return s
    }

    /// An id that may be sent as a string or a number.
    func optId(_ key: String) throws(FieldProblem) -> String? {
        guard let v = self[key] else { return nil }
        guard let s = v.stringOrNumber else { throw FieldProblem(field: name(key), "must be a string or number, got \(v.typeName)") }
        return s
    }

    func number(_ key: String) throws(FieldProblem) -> Double {
        guard let v = self[key] else { throw FieldProblem(field: name(key), "is required (a number)") }
        return try Fields.number(v, field: name(key))
    }

    func optNumber(_ key: String) throws(FieldProblem) -> Double? {
        guard let v = self[key] else { return nil }
        return try Fields.number(v, field: name(key))
    }

    func optBool(_ key: String) throws(FieldProblem) -> Bool? {
        guard let v = self[key] else { return nil }
        guard let b = v.boolValue else { throw FieldProblem(field: name(key), "must be true or false, got \(v.typeName)") }
        return b
    }

    func optObject(_ key: String) throws(FieldProblem) -> Fields? {
        guard let v = self[key] else { return nil }
        return try Fields(v, path: name(key))
    }

    func optArray(_ key: String) throws(FieldProblem) -> [JSONValue]? {
        guard let v = self[key] else { return nil }
        guard let a = v.arrayValue else { throw FieldProblem(field: name(key), "must be an array, got \(v.typeName)") }
        return a
    }

    /// Optional whole number of pixels (image sizes).
    func optPixels(_ key: String) throws(FieldProblem) -> Int? {
        guard let n = try optNumber(key) else { return nil }
        guard let px = Checked.exactInt(n, in: -1_000_000_000...1_000_000_000) else { throw FieldProblem(field: name(key), "must be a whole number of pixels") }
        return px
    }

    /// A finite number. Numeric strings are *not* accepted: a score of "0.9" is a sender bug
    /// worth reporting, and strings like "NaN" must never become numbers.
    static func number(_ v: JSONValue, field: String) throws(FieldProblem) -> Double {
        guard let n = v.doubleValue else { throw FieldProblem(field: field, "must be a number, got \(v.typeName)") }
        guard n.isFinite else { throw FieldProblem(field: field, "must be a finite number") }
        return n
    }
}

/// An adapter's reading of one item, before the shared finishing step.
struct Draft {
    var label: String
    var labelField: String
    var confidence: Double
    var camera: String? = nil
    var timestamp: Date? = nil
    var bbox: BoundingBox? = nil
    var image: ImageRef? = nil
    var zone: String? = nil
    var model: ModelInfo? = nil
    var trackingId: String? = nil
    var detectionId: String? = nil
    var measurements: [String: Double]? = nil
}

enum Finish {
    static let maxSourceTextLength = 128

    /// Camera resolution, label mapping, box clipping and field limits shared by all
    /// non-native adapters.
    static func detection(_ d: Draft, format: VisionFormat, context: AdapterContext) throws(FieldProblem) -> Detection {
        let camera = try resolveCamera(payload: d.camera, format: format, context: context)
        let label = d.label.trimmingWhitespace()
        guard !label.isEmpty else { throw FieldProblem(field: d.labelField, "is empty; the vision system sent no label") }
        guard label.count <= maxSourceTextLength else {
            throw FieldProblem(field: d.labelField, "is longer than \(maxSourceTextLength) characters")
        }
        // An overlong tracker id is still an identity: keep it as a stable hash rather than
        // losing the detection over it.
        var tracking = d.trackingId
        if let t = tracking, t.count > maxSourceTextLength || t.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            tracking = "h" + StableID.hash(t)
        }
        var out = Detection(
            detectionId: d.detectionId, cameraId: camera, timestamp: d.timestamp ?? context.receivedAt,
            defectClass: context.defectClass(forLabel: label), confidence: d.confidence,
            bbox: d.bbox.map { clip($0, image: d.image) }, image: d.image, zone: d.zone, model: d.model,
            measurements: d.measurements, trackingId: tracking, sourceLabel: d.label, sourceFormat: format.rawValue)
        if out.zone?.isEmpty == true { out.zone = nil }
        return out
    }

    static func resolveCamera(payload: String?, format: VisionFormat, context: AdapterContext) throws(FieldProblem) -> String {
        let p = payload.flatMap { $0.trimmingWhitespace(.whitespaces).isEmpty ? nil : $0 }
        let c = context.cameraId.flatMap { $0.trimmingWhitespace(.whitespaces).isEmpty ? nil : $0 }
        if let camera = context.preferContextCamera ? (c ?? p) : (p ?? c) { return camera }
        throw FieldProblem(field: "camera_id",
            "is unknown: \(format.rawValue) payloads\(payload == nil ? " carry no camera" : " named an empty camera"); pass ?camera= or configure camera_from_topic for this source")
    }

    /// Vision boxes often overshoot the frame by a pixel or two (rounding, centre→corner
    /// conversion); clip such overshoots so the detection is not rejected for it. Larger
    /// overshoots are left for the validator to report.
    static func clip(_ b: BoundingBox, image: ImageRef?) -> BoundingBox {
        let tolerance = 2.0
        var b = b
        if b.x < 0, b.x >= -tolerance { b.width += b.x; b.x = 0 }
        if b.y < 0, b.y >= -tolerance { b.height += b.y; b.y = 0 }
        if let w = image?.width.map(Double.init), b.x + b.width > w, b.x + b.width <= w + tolerance { b.width = w - b.x }
        if let h = image?.height.map(Double.init), b.y + b.height > h, b.y + b.height <= h + tolerance { b.height = h - b.y }
        return b
    }

    /// Box from corners (x1, y1) top-left and (x2, y2) bottom-right, in pixels.
    static func corners(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, field: String) throws(FieldProblem) -> BoundingBox {
        guard x2 >= x1, y2 >= y1 else {
            throw FieldProblem(field: field, "bottom-right corner (\(x2), \(y2)) is above or left of the top-left corner (\(x1), \(y1))")
        }
        return BoundingBox(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
    }

    static let assumedConfidenceHint = "set mqtt.sources[].assumed_confidence (MQTT) or ?assumed_confidence= (REST)"

    /// The confidence to use when the source sent none; throws the explanation, naming the
    /// option that supplies one, otherwise.
    static func assumed(_ context: AdapterContext, field: String, why: String) throws(FieldProblem) -> Double {
        if let c = context.assumedConfidence { return c }
        throw FieldProblem(field: field, why + "; " + assumedConfidenceHint)
    }
}

/// Detection ids for formats whose payload may not carry one. Same message -> same id.
enum StableID {
    /// `prefix:part:part…` when that is a usable id (≤ 128 UTF-8 bytes, no control or bidi characters),
    /// else `prefix:h<128-bit hash of the parts>`.
    static func make(_ format: VisionFormat, _ parts: [String]) -> String {
        let joined = parts.joined(separator: ":")
        let candidate = "\(format.idPrefix):\(joined)"
        if candidate.utf8.count <= DetectionValidator.maxIdBytes,
           (try? DetectionValidator.identifier(candidate, "detection_id")) != nil, !candidate.contains(" ") {
            return candidate
        }
        return "\(format.idPrefix):h\(hash(joined))"
    }

    /// Id for item `index` of a payload that has no id of its own: from the transport's message
    /// key when there is one, else from the payload's canonical content.
    static func forContent(_ format: VisionFormat, payloadDigest: String, index: Int, context: AdapterContext) -> String {
        if let key = context.messageKey, !key.isEmpty { return make(format, ["m", key, String(index)]) }
        return "\(format.idPrefix):h\(hash(payloadDigest + "#" + String(index)))"
    }

    /// Digest of a payload's canonical content plus the camera it is attributed to.
    static func digest(_ value: JSONValue, camera: String?) -> String {
        var s = "cam=" + (camera ?? "") + ";"
        Canonical.write(value, into: &s)
        return hash(s)
    }

    /// 128 bits as 32 hex digits: two FNV-1a 64 passes with different offset bases.
    static func hash(_ s: String) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        let prime: UInt64 = 0x0000_0100_0000_01b3
        for byte in s.utf8 {
            a = (a ^ UInt64(byte)) &* prime
            b = (b ^ UInt64(byte ^ 0x5c)) &* prime
        }
        return hex(a) + hex(b)
    }

    private static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Milliseconds since the epoch as text, for ids (falls back to the number's text).
    static func millis(_ seconds: Double) -> String {
        let ms = (seconds * 1000).rounded()
        if ms.isFinite, abs(ms) < 9e15 { return String(Int64(ms)) }
        return String(seconds)
    }
}

/// Canonical JSON text (sorted keys, shortest round-trip numbers) for content hashing.
enum Canonical {
    static func write(_ v: JSONValue, into s: inout String) {
        switch v {
        case .null: s += "null"
        case .bool(let b): s += b ? "true" : "false"
        case .number(let n): s += String(describing: n)
        case .string(let t): s += "\""; s += t.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""); s += "\""
        case .array(let a):
            s += "["
            for (i, e) in a.enumerated() { if i > 0 { s += "," }; write(e, into: &s) }
            s += "]"
        case .object(let o):
            s += "{"
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { s += "," }
                write(.string(k), into: &s); s += ":"; write(o[k]!, into: &s)
            }
            s += "}"
        }
    }
}

/// An optional, non-standard top-level `timestamp` some integrations add to formats that carry
/// none (Roboflow, LandingLens, Ultralytics items, COCO items). Absent -> nil (receivedAt).
func optionalTimestamp(_ f: Fields, key: String = "timestamp") throws(FieldProblem) -> Date? {
    guard let v = f[key] else { return nil }
    return try Timestamps.parse(v, field: f.name(key))
}
