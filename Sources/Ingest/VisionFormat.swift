import Foundation
import MillwrightCore

/// The vision formats Millwright ingests (`?format=` on `POST /v1/detections`, `format:` of an
/// MQTT source). Raw values are the names users type.
public enum VisionFormat: String, CaseIterable, Sendable, Codable {
    case native, deepstream, frigate, ultralytics, roboflow, landinglens, coco

    /// Short prefix used in generated detection ids.
    var idPrefix: String {
        switch self {
        case .native: "native"
        case .deepstream: "ds"
        case .frigate: "frigate"
        case .ultralytics: "ul"
        case .roboflow: "rf"
        case .landinglens: "ll"
        case .coco: "coco"
        }
    }
}

/// What the transport knows about a message that the payload itself may not say.
public struct AdapterContext: Sendable {
    /// Camera for formats that carry none (Ultralytics, Roboflow, LandingLens, COCO), or for
    /// payloads that omit it: from the MQTT topic segment (`camera_from_topic`) or `?camera=`.
    public var cameraId: String?
    /// When true, `cameraId` wins over a camera named in the payload (set it when the camera is
    /// bound explicitly, e.g. `camera_from_topic`). When false the payload's camera wins and
    /// `cameraId` is only the fallback.
    public var preferContextCamera: Bool
    /// Vision label -> defect class. Matched case-insensitively (and ignoring surrounding
    /// whitespace). A label that is not in the map is kept, lowercased, as the defect class;
    /// the original spelling is always kept in `Detection.sourceLabel`.
    public var labelMap: [String: String] {
        get { _labelMap }
        set { _labelMap = newValue; normalizedLabels = AdapterContext.normalize(newValue) }
    }
    /// COCO `category_id` -> category name (the name then goes through `labelMap`).
    public var cocoCategories: [Int: String]
    /// Frigate base URL (e.g. `http://nvr.plant.example:5000`) for snapshot references.
    public var frigateBaseURL: String?
    /// When the gateway received the message: the timestamp for formats that carry none, and
    /// "now" for validation.
    public var receivedAt: Date
    /// A transport-level message identity when there is one (e.g. an HTTP `Idempotency-Key`).
    /// Used for detection ids of formats whose payload has no id of its own.
    public var messageKey: String?
    /// Confidence to assume when the source sent none (DeepStream minimal schema without
    /// secondary classifiers, DeepStream's −0.1 "never set"). `nil` (default): such objects are
    /// rejected with a problem that says so, rather than inventing a score.
    public var assumedConfidence: Double?
    /// Largest number of items one payload may carry.
    public var maxItems: Int

    private var _labelMap: [String: String]
    private var normalizedLabels: [String: String]

    public init(
        cameraId: String? = nil, preferContextCamera: Bool = false, labelMap: [String: String] = [:],
        cocoCategories: [Int: String] = [:], frigateBaseURL: String? = nil, receivedAt: Date = Date(),
        messageKey: String? = nil, assumedConfidence: Double? = nil, maxItems: Int = 10_000
    ) {
        self.cameraId = cameraId
        self.preferContextCamera = preferContextCamera
        self._labelMap = labelMap
        self.normalizedLabels = AdapterContext.normalize(labelMap)
        self.cocoCategories = cocoCategories
        self.frigateBaseURL = frigateBaseURL
        self.receivedAt = receivedAt
        self.messageKey = messageKey
        self.assumedConfidence = assumedConfidence
        self.maxItems = maxItems
    }

    private static func normalize(_ map: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        // Sorted so that two keys differing only in case resolve deterministically.
        for key in map.keys.sorted() {
            let k = key.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            if out[k] == nil, let v = map[key] { out[k] = v }
        }
        return out
    }

    /// Maps a vision label to a defect class (see `labelMap`).
    public func defectClass(forLabel label: String) -> String {
        let k = label.trimmingWhitespace().lowercased()
        return normalizedLabels[k] ?? k
    }

    /// Whether `labelMap` has an entry for this label.
    public func hasMapping(forLabel label: String) -> Bool {
        normalizedLabels[label.trimmingWhitespace().lowercased()] != nil
    }
}

/// Why one item of a payload did not become a detection.
public struct IndexedProblem: Error, Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The item is malformed or fails validation: the sender should fix it.
        case invalid
        /// The item is well-formed but is not a detection by policy (Frigate false positive,
        /// Frigate review summary, face/plate update, …). Report it; don't count it as an error.
        case notADetection = "not_a_detection"
    }
    /// Position of the item in the payload, counting every item the payload holds in order
    /// (array elements, `predictions[]`, `objects[]`, …); 0 for a whole-payload problem.
    public var index: Int
    public var problem: FieldProblem
    public var kind: Kind

    public init(index: Int, problem: FieldProblem, kind: Kind = .invalid) {
        self.index = index; self.problem = problem; self.kind = kind
    }
}
