import Foundation
import MillwrightCore

/// Entry point the gateway calls for REST (`POST /v1/detections?format=…`) and MQTT sources.
///
/// Every detection returned as `.success` has already passed
/// `DetectionValidator.validate(_, now: context.receivedAt)`; a detection that fails it is
/// returned as an `.invalid` problem for its item instead. (The gateway may validate again.)
public enum Adapters {
    /// Payloads whose format is clear from their shape. Rules, first match wins:
    ///
    /// Object payloads
    /// - `backbonepredictions` or `backbonetype` key, or `type` ∈ {ObjectDetectionPrediction,
    ///   ClassificationPrediction, SegmentationPrediction} with `predictions` → `landinglens`
    /// - `type` string with a `before` or `after` object (frigate/events, frigate/reviews), or
    ///   `type` ∈ {face, lpr, …} with `id` and `camera` (tracked_object_update) → `frigate`
    /// - `messageid` with an `object` object (full schema), or an `objects` array with
    ///   `@timestamp` and `sensorId` or `version` (minimal schema) → `deepstream`
    /// - `predictions` array or object → `roboflow`
    /// - `annotations` array (COCO dataset-style wrapper) → `coco`
    /// - `defect_class`, `camera_id` or `detection_id` key → `native` (so an incomplete native
    ///   detection gets the native schema's field problems)
    ///
    /// Array payloads: the elements must agree (the first 257 are checked; a later element of
    /// another shape is then rejected on its own by the chosen adapter). Objects with `image_id`, `category_id` and
    /// `bbox` → `coco`; with `name` and `confidence` → `ultralytics`; arrays of such objects
    /// (one result list per image) → `ultralytics`; with `defect_class` → `native`; elements
    /// that are whole payloads of one format (above) → that format.
    ///
    /// Anything else (including elements of different formats, and `[]`) → `nil`: the caller
    /// must name the format.
    public static func detect(_ json: JSONValue) -> VisionFormat? {
        switch json {
        case .object(let o): return detectObject(o)
        case .array(let a):
            guard let first = a.first else { return nil }
            let format = detectElement(first)
            guard let format else { return nil }
            // Check a bounded sample so detection stays cheap on huge arrays.
            for e in a.dropFirst().prefix(256) where detectElement(e) != format { return nil }
            return format
        default: return nil
        }
    }

    /// Maps one payload to detections, one result per item, in payload order. `format: nil`
    /// auto-detects (see `detect`). A payload that cannot be read at all yields one `.invalid`
    /// problem with index 0.
    public static func decode(_ json: JSONValue, format: VisionFormat?, context: AdapterContext) -> [Result<Detection, IndexedProblem>] {
        decodeWithFormat(json, format: format, context: context).results
    }

    /// As `decode`, also saying which format was used (`nil` when none could be determined).
    public static func decodeWithFormat(_ json: JSONValue, format: VisionFormat?, context: AdapterContext)
        -> (format: VisionFormat?, results: [Result<Detection, IndexedProblem>])
    {
        guard let format = format ?? detect(json) else {
            if case .array(let a) = json, a.isEmpty { return (nil, []) }
            let names = VisionFormat.allCases.map(\.rawValue).joined(separator: "|")
            return (nil, [.failure(IndexedProblem(index: 0, problem: FieldProblem(field: nil,
                "could not tell the vision format from the payload (\(json.typeName)); name it with ?format=\(names) or the MQTT source's format")))])
        }
        let items: [ItemResult]
        switch format {
        case .native: items = NativeAdapter.decode(json, context: context)
        case .deepstream: items = DeepStreamAdapter.decode(json, context: context)
        case .frigate: items = FrigateAdapter.decode(json, context: context)
        case .ultralytics: items = UltralyticsAdapter.decode(json, context: context)
        case .roboflow: items = RoboflowAdapter.decode(json, context: context)
        case .landinglens: items = LandingLensAdapter.decode(json, context: context)
        case .coco: items = COCOAdapter.decode(json, context: context)
        }
        var results: [Result<Detection, IndexedProblem>] = []
        results.reserveCapacity(items.count)
        for (index, r) in items.enumerated() {
            switch r {
            case .failure(let rejection):
                results.append(.failure(IndexedProblem(index: index, problem: rejection.problem, kind: rejection.kind)))
            case .success(let d):
                do throws(FieldProblem) {
                    try preValidate(d, now: context.receivedAt)
                    try DetectionValidator.validate(d, now: context.receivedAt)
                    results.append(.success(d))
                } catch {
                    results.append(.failure(IndexedProblem(index: index, problem: error)))
                }
            }
        }
        return (format, results)
    }

    /// Parses bytes and decodes them; invalid JSON becomes one `.invalid` problem.
    public static func decode(_ data: Data, format: VisionFormat?, context: AdapterContext) -> [Result<Detection, IndexedProblem>] {
        let json: JSONValue
        do { json = try JSONValue.parse(data) } catch {
            return [.failure(IndexedProblem(index: 0, problem: error))]
        }
        return decode(json, format: format, context: context)
    }

    /// Checks `DetectionValidator` cannot survive: it formats the future skew with `Int(skew)`,
    /// which traps for absurd times (`"timestamp": 1e300` parses as a Date). Reported to core.
    static func preValidate(_ d: Detection, now: Date) throws(FieldProblem) {
        let skew = d.timestamp.timeIntervalSince(now)
        if !skew.isFinite || skew > 1e9 {
            throw FieldProblem(field: "timestamp", "is far in the future (more than 30 years); check the camera's clock (NTP) and the time unit")
        }
    }

    // MARK: - detection rules

    static let landingLensTypes: Set<String> = ["ObjectDetectionPrediction", "ClassificationPrediction", "SegmentationPrediction"]
    static let frigateUpdateTypes: Set<String> = ["face", "lpr", "description", "classification", "audio"]

    static func detectObject(_ o: [String: JSONValue]) -> VisionFormat? {
        func present(_ k: String) -> Bool { if let v = o[k], !v.isNull { return true }; return false }
        if o["backbonepredictions"] != nil || o["backbonetype"] != nil { return .landinglens }
        if let t = o["type"]?.stringValue, landingLensTypes.contains(t), present("predictions") { return .landinglens }
        if o["type"]?.stringValue != nil, o["before"]?.objectValue != nil || o["after"]?.objectValue != nil { return .frigate }
        if let t = o["type"]?.stringValue, frigateUpdateTypes.contains(t), present("id"), present("camera") { return .frigate }
        if present("messageid"), o["object"]?.objectValue != nil { return .deepstream }
        if o["objects"]?.arrayValue != nil, present("@timestamp"), present("sensorId") || present("version") { return .deepstream }
        if o["predictions"]?.arrayValue != nil || o["predictions"]?.objectValue != nil { return .roboflow }
        if o["annotations"]?.arrayValue != nil { return .coco }
        if o["defect_class"] != nil || o["camera_id"] != nil || o["detection_id"] != nil { return .native }
        return nil
    }

    static func detectElement(_ v: JSONValue) -> VisionFormat? {
        switch v {
        case .array(let inner):
            // Ultralytics: one result list per image.
            guard let first = inner.first?.objectValue else { return inner.isEmpty ? .ultralytics : nil }
            return isUltralyticsItem(first) ? .ultralytics : nil
        case .object(let o):
            if o["image_id"] != nil, o["category_id"] != nil, o["bbox"] != nil { return .coco }
            if isUltralyticsItem(o) { return .ultralytics }
            return detectObject(o)
        default: return nil
        }
    }

    static func isUltralyticsItem(_ o: [String: JSONValue]) -> Bool {
        o["name"]?.stringValue != nil && o["confidence"] != nil && o["defect_class"] == nil && o["predictions"] == nil
    }
}

/// Shared handling of "one payload or an array of payloads" for formats whose payload is an
/// object (DeepStream, Frigate, Roboflow, LandingLens): each element's items are appended in
/// order. Enforces `maxItems` over the whole batch.
func forEachPayload(_ json: JSONValue, context: AdapterContext, expected: String,
                    _ body: (_ payload: Fields, _ path: String) -> [ItemResult]) -> [ItemResult] {
    switch json {
    case .object(let o): return capped(body(Fields(o), ""), context: context)
    case .array(let a):
        guard a.count <= context.maxItems else { return [tooMany(a.count, context: context)] }
        var out: [ItemResult] = []
        for (i, e) in a.enumerated() {
            guard let o = e.objectValue else {
                out.append(.failure(Rejection(FieldProblem(field: "[\(i)]", "must be \(expected), got \(e.typeName)"))))
                continue
            }
            out += body(Fields(o, path: "[\(i)]"), "[\(i)]")
            if out.count > context.maxItems { return [tooMany(out.count, context: context)] }
        }
        return out
    default:
        return [.failure(Rejection(FieldProblem(field: nil, "must be \(expected) or an array of them, got \(json.typeName)")))]
    }
}

func capped(_ items: [ItemResult], context: AdapterContext) -> [ItemResult] {
    items.count > context.maxItems ? [tooMany(items.count, context: context)] : items
}

func tooMany(_ n: Int, context: AdapterContext) -> ItemResult {
    .failure(Rejection(FieldProblem(field: nil, "holds \(n) items, more than the limit of \(context.maxItems); split it into smaller batches")))
}

/// `base.key[i]` style paths.
func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : "\(base).\(key)" }
