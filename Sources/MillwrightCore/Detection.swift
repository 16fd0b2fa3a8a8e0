import Foundation

/// A defect detection in Millwright's native schema (PRODUCT §4). Every vision format is
/// mapped onto this before anything else looks at it.
public struct Detection: Codable, Sendable, Equatable {
    public var detectionId: String?
    public var cameraId: String
    public var timestamp: Date
    public var defectClass: String
    public var confidence: Double
    public var bbox: BoundingBox?
    public var image: ImageRef?
    public var zone: String?
    public var productionOrder: String?
    public var shift: String?
    public var model: ModelInfo?
    public var measurements: [String: Double]?
    /// Tracker id from the vision system (DeepStream object id, Frigate event id, …).
    public var trackingId: String?
    /// The label exactly as the vision system sent it, before label mapping.
    public var sourceLabel: String?
    /// Which adapter produced this detection (`native`, `deepstream`, `frigate`, …).
    public var sourceFormat: String?
    /// SHA-256 of the frame the camera sent inline, once stored as evidence (the base64
    /// itself is not kept in the database).
    public var frameSHA256: String?

    public init(
        detectionId: String? = nil, cameraId: String, timestamp: Date, defectClass: String,
        confidence: Double, bbox: BoundingBox? = nil, image: ImageRef? = nil, zone: String? = nil,
        productionOrder: String? = nil, shift: String? = nil, model: ModelInfo? = nil,
        measurements: [String: Double]? = nil, trackingId: String? = nil,
        sourceLabel: String? = nil, sourceFormat: String? = nil
    ) {
        self.detectionId = detectionId
        self.cameraId = cameraId
        self.timestamp = timestamp
        self.defectClass = defectClass
        self.confidence = confidence
        self.bbox = bbox
        self.image = image
        self.zone = zone
        self.productionOrder = productionOrder
        self.shift = shift
        self.model = model
        self.measurements = measurements
        self.trackingId = trackingId
        self.sourceLabel = sourceLabel
        self.sourceFormat = sourceFormat
    }

    enum CodingKeys: String, CodingKey {
        case detectionId = "detection_id", cameraId = "camera_id", timestamp
        case defectClass = "defect_class", confidence, bbox, image, zone
        case productionOrder = "production_order", shift, model, measurements
        case trackingId = "tracking_id", sourceLabel = "source_label", sourceFormat = "source_format"
        case frameSHA256 = "frame_sha256"
    }
}

/// Pixel box in the coordinates of `image` (top-left origin).
public struct BoundingBox: Codable, Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public var area: Double { width * height }
}

public struct ImageRef: Codable, Sendable, Equatable {
    public var width: Int?
    public var height: Int?
    /// Where the frame can be fetched (NVR, Frigate snapshot API, …).
    public var url: String?
    public var dataBase64: String?
    public init(width: Int? = nil, height: Int? = nil, url: String? = nil, dataBase64: String? = nil) {
        self.width = width; self.height = height; self.url = url; self.dataBase64 = dataBase64
    }
    enum CodingKeys: String, CodingKey { case width, height, url, dataBase64 = "data_base64" }
}

public struct ModelInfo: Codable, Sendable, Equatable {
    public var name: String?
    public var version: String?
    public init(name: String? = nil, version: String? = nil) { self.name = name; self.version = version }
}

/// Why one item of a submission was not accepted: the field at fault and what to fix.
public struct FieldProblem: Error, Sendable, Equatable, Codable {
    public var field: String?
    public var problem: String
    public init(field: String?, _ problem: String) { self.field = field; self.problem = problem }
}

extension Detection {
    /// The stored form: what the Codable encoding gives (keys sorted, absent fields left out),
    /// written directly because it runs for every detection ingested.
    public var recordJSON: String {
        var out = "{"
        var first = true
        func key(_ name: String) {
            out += first ? "\"" : ",\""
            first = false
            out += name
            out += "\":"
        }
        func string(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            CanonicalJSON.writeString(value, into: &out)
        }
        func number(_ name: String, _ value: Double?) {
            guard let value else { return }
            key(name)
            CanonicalJSON.writeNumber(value, into: &out)
        }
        /// A nested object of optional fields, given in key order.
        func object(_ name: String, _ fields: [(String, JSONValue?)]) {
            key(name)
            out += "{"
            var firstField = true
            for case let (field, value?) in fields {
                out += firstField ? "\"" : ",\""
                firstField = false
                out += field
                out += "\":"
                CanonicalJSON.write(value, into: &out)
            }
            out += "}"
        }
        // In the byte order of the keys.
        if let b = bbox { object("bbox", [("height", .number(b.height)), ("width", .number(b.width)), ("x", .number(b.x)), ("y", .number(b.y))]) }
        string("camera_id", cameraId)
        number("confidence", confidence)
        string("defect_class", defectClass)
        string("detection_id", detectionId)
        string("frame_sha256", frameSHA256)
        if let i = image {
            object("image", [("data_base64", i.dataBase64.map(JSONValue.string)), ("height", i.height.map { .number(Double($0)) }),
                             ("url", i.url.map(JSONValue.string)), ("width", i.width.map { .number(Double($0)) })])
        }
        if let m = measurements { key("measurements"); CanonicalJSON.write(.object(m.mapValues(JSONValue.number)), into: &out) }
        if let m = model { object("model", [("name", m.name.map(JSONValue.string)), ("version", m.version.map(JSONValue.string))]) }
        string("production_order", productionOrder)
        string("shift", shift)
        string("source_format", sourceFormat)
        string("source_label", sourceLabel)
        string("timestamp", Timestamps.format(timestamp))
        string("tracking_id", trackingId)
        string("zone", zone)
        return out + "}"
    }
}
