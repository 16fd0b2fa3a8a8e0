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
        func field(_ key: String, _ value: JSONValue?) {
            guard let value else { return }
            if !first { out += "," }
            first = false
            CanonicalJSON.writeString(key, into: &out)
            out += ":"
            CanonicalJSON.write(value, into: &out)
        }
        // In the byte order of the keys.
        field("bbox", bbox.map { .object(["height": .number($0.height), "width": .number($0.width), "x": .number($0.x), "y": .number($0.y)]) })
        field("camera_id", .string(cameraId))
        field("confidence", .number(confidence))
        field("defect_class", .string(defectClass))
        field("detection_id", detectionId.map(JSONValue.string))
        field("frame_sha256", frameSHA256.map(JSONValue.string))
        field("image", image.map { i in
            var o: [String: JSONValue] = [:]
            o["data_base64"] = i.dataBase64.map(JSONValue.string)
            o["height"] = i.height.map { .number(Double($0)) }
            o["url"] = i.url.map(JSONValue.string)
            o["width"] = i.width.map { .number(Double($0)) }
            return .object(o)
        })
        field("measurements", measurements.map { .object($0.mapValues(JSONValue.number)) })
        field("model", model.map { m in
            var o: [String: JSONValue] = [:]
            o["name"] = m.name.map(JSONValue.string)
            o["version"] = m.version.map(JSONValue.string)
            return .object(o)
        })
        field("production_order", productionOrder.map(JSONValue.string))
        field("shift", shift.map(JSONValue.string))
        field("source_format", sourceFormat.map(JSONValue.string))
        field("source_label", sourceLabel.map(JSONValue.string))
        field("timestamp", .string(Timestamps.format(timestamp)))
        field("tracking_id", trackingId.map(JSONValue.string))
        field("zone", zone.map(JSONValue.string))
        return out + "}"
    }
}
