import Foundation

/// Semantic checks every detection passes before it is stored, whatever format it came in.
/// Every bound is absolute, so nothing downstream (severity, rendering, the CMMS text, the
/// floor events) ever sees a number it cannot convert or a string it must not hold.
public enum DetectionValidator {
    public static let maxFutureSkew: TimeInterval = 5 * 60
    /// Ids and short labels (camera, defect class, zone, tracking id, model …), in UTF-8 bytes.
    public static let maxIdBytes = 128
    /// Free text (the frame URL), in UTF-8 bytes.
    public static let maxTextBytes = 4 * 1024
    /// All measurements together (names and values as JSON), in UTF-8 bytes.
    public static let maxAttributeBytes = 16 * 1024
    public static let maxMeasurements = 64
    /// Frame dimensions in pixels.
    public static let maxImagePixels = 50_000
    /// Box edges, in pixels from the frame's origin.
    public static let maxBoxCoordinate = 100_000.0
    public static let minBoxSize = 0.5
    /// Measurements beyond this are not physical readings.
    public static let maxMeasurement = 1e9

    public static func validate(_ d: Detection, now: Date) throws(FieldProblem) {
        try identifier(d.cameraId, "camera_id")
        try identifier(d.defectClass, "defect_class")
        if let id = d.detectionId { try identifier(id, "detection_id") }
        for (name, v) in [("zone", d.zone), ("production_order", d.productionOrder), ("shift", d.shift), ("tracking_id", d.trackingId),
                          ("model.name", d.model?.name), ("model.version", d.model?.version), ("source_label", d.sourceLabel)] {
            if let v { try identifier(v, name, allowEmpty: true) }
        }
        guard d.confidence.isFinite, (0...1).contains(d.confidence) else {
            throw FieldProblem(field: "confidence", "must be between 0 and 1")
        }
        try timestamp(d.timestamp, now: now)
        if let image = d.image {
            for (name, v) in [("image.width", image.width), ("image.height", image.height)] {
                if let v, !(1...maxImagePixels).contains(v) {
                    throw FieldProblem(field: name, "must be between 1 and \(maxImagePixels) pixels, got \(v)")
                }
            }
            if let url = image.url { try text(url, "image.url", maxBytes: maxTextBytes) }
        }
        if let b = d.bbox { try box(b, image: d.image) }
        if let m = d.measurements { try measurements(m) }
    }

    static func timestamp(_ t: Date, now: Date) throws(FieldProblem) {
        let skew = t.timeIntervalSince(now)
        guard skew.isFinite else { throw FieldProblem(field: "timestamp", "is not a representable time") }
        if skew > maxFutureSkew {
            let shown = skew < 1e7 ? "\(Checked.display(skew)) s" : "more than 100 days"
            throw FieldProblem(field: "timestamp", "is \(shown) in the future (more than 5 minutes); check the camera's clock (NTP)")
        }
        if t < Date(timeIntervalSince1970: 946_684_800) {
            throw FieldProblem(field: "timestamp", "is before the year 2000; check the camera's clock")
        }
    }

    static func box(_ b: BoundingBox, image: ImageRef?) throws(FieldProblem) {
        for (name, v) in [("bbox.x", b.x), ("bbox.y", b.y), ("bbox.width", b.width), ("bbox.height", b.height)] {
            guard v.isFinite else { throw FieldProblem(field: name, "must be a finite number") }
            guard abs(v) <= maxBoxCoordinate else {
                throw FieldProblem(field: name, "must be within ±\(Int(maxBoxCoordinate)) pixels")
            }
        }
        guard b.x >= 0, b.y >= 0 else { throw FieldProblem(field: "bbox", "x and y must not be negative") }
        guard b.width >= minBoxSize, b.height >= minBoxSize else {
            throw FieldProblem(field: "bbox", "width and height must be at least \(minBoxSize) pixels (is the box in pixels, not fractions of the frame?)")
        }
        guard b.x + b.width <= maxBoxCoordinate, b.y + b.height <= maxBoxCoordinate else {
            throw FieldProblem(field: "bbox", "extends past \(Int(maxBoxCoordinate)) pixels")
        }
        if let w = image?.width, b.x + b.width > Double(w) + 0.5 {
            throw FieldProblem(field: "bbox", "extends past the image's right edge (x + width = \(b.x + b.width) > image.width \(w))")
        }
        if let h = image?.height, b.y + b.height > Double(h) + 0.5 {
            throw FieldProblem(field: "bbox", "extends past the image's bottom edge (y + height = \(b.y + b.height) > image.height \(h))")
        }
    }

    static func measurements(_ m: [String: Double]) throws(FieldProblem) {
        guard m.count <= maxMeasurements else { throw FieldProblem(field: "measurements", "has more than \(maxMeasurements) entries") }
        var bytes = 0
        for (k, v) in m {
            try identifier(k, "measurements")
            guard v.isFinite, abs(v) <= maxMeasurement else {
                throw FieldProblem(field: "measurements.\(Self.shown(k))", "must be a finite number within ±1e9")
            }
            bytes += k.utf8.count + 24
        }
        guard bytes <= maxAttributeBytes else { throw FieldProblem(field: "measurements", "is larger than \(maxAttributeBytes) bytes") }
    }

    /// An id: non-empty, at most `maxIdBytes` UTF-8 bytes, no control, bidi or line-separator
    /// characters (they make a log line or a CMMS text say something other than what it holds).
    public static func identifier(_ s: String, _ field: String, allowEmpty: Bool = false) throws(FieldProblem) {
        if s.utf8.count > maxIdBytes { throw FieldProblem(field: field, "is longer than \(maxIdBytes) bytes (UTF-8)") }
        // Printable ASCII, the id of nearly every detection, needs no Unicode property lookups.
        if s.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
            if !allowEmpty, s.utf8.allSatisfy({ $0 == 0x20 }) { throw FieldProblem(field: field, "must not be empty") }
            return
        }
        if !allowEmpty, s.unicodeScalars.allSatisfy({ $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }) { throw FieldProblem(field: field, "must not be empty") }
        if let bad = s.unicodeScalars.first(where: isForbiddenInIdentifier) {
            throw FieldProblem(field: field, "contains the invisible or control character U+\(String(bad.value, radix: 16, uppercase: true))")
        }
    }

    /// Free text: bounded in bytes, no control characters other than line breaks and tabs.
    public static func text(_ s: String, _ field: String, maxBytes: Int) throws(FieldProblem) {
        if s.utf8.count > maxBytes { throw FieldProblem(field: field, "is longer than \(maxBytes) bytes (UTF-8)") }
        if s.utf8.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return }
        if let bad = s.unicodeScalars.first(where: { isBidiControl($0) || ($0.properties.generalCategory == .control && !"\n\r\t".unicodeScalars.contains($0)) }) {
            throw FieldProblem(field: field, "contains the control character U+\(String(bad.value, radix: 16, uppercase: true))")
        }
    }

    static func isForbiddenInIdentifier(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: return true
        default: return isBidiControl(u)
        }
    }

    /// Unicode's bidirectional formatting characters (UAX #9): they reorder displayed text.
    static func isBidiControl(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// A field name from a client, cut for an error message.
    static func shown(_ k: String) -> String { String(k.unicodeScalars.prefix(40).map(Character.init)) }
}
