import Foundation

/// Semantic checks every detection passes before it is stored, whatever format it came in.
public enum DetectionValidator {
    public static let maxFutureSkew: TimeInterval = 5 * 60
    public static let maxIdLength = 128
    public static let maxImagePixels = 100_000

    public static func validate(_ d: Detection, now: Date) throws(FieldProblem) {
        try text(d.cameraId, "camera_id", max: maxIdLength)
        try text(d.defectClass, "defect_class", max: 64)
        if let id = d.detectionId { try text(id, "detection_id", max: maxIdLength) }
        guard d.confidence.isFinite, (0...1).contains(d.confidence) else {
            throw FieldProblem(field: "confidence", "must be between 0 and 1, got \(d.confidence)")
        }
        let skew = d.timestamp.timeIntervalSince(now)
        guard skew.isFinite else { throw FieldProblem(field: "timestamp", "is not a representable time") }
        if skew > maxFutureSkew {
            let shown = skew < 1e9 ? "\(Int(skew)) s" : "years"
            throw FieldProblem(field: "timestamp", "is \(shown) in the future (more than 5 minutes); check the camera's clock (NTP)")
        }
        if d.timestamp < Date(timeIntervalSince1970: 946_684_800) {
            throw FieldProblem(field: "timestamp", "is before the year 2000; check the camera's clock")
        }
        if let image = d.image {
            for (name, v) in [("image.width", image.width), ("image.height", image.height)] {
                if let v, !(1...maxImagePixels).contains(v) {
                    throw FieldProblem(field: name, "must be between 1 and \(maxImagePixels) pixels, got \(v)")
                }
            }
        }
        if let b = d.bbox {
            for (name, v) in [("bbox.x", b.x), ("bbox.y", b.y), ("bbox.width", b.width), ("bbox.height", b.height)] {
                guard v.isFinite else { throw FieldProblem(field: name, "must be a finite number") }
            }
            guard b.x >= 0, b.y >= 0 else { throw FieldProblem(field: "bbox", "x and y must not be negative") }
            guard b.width > 0, b.height > 0 else { throw FieldProblem(field: "bbox", "width and height must be positive") }
            if let w = d.image?.width, b.x + b.width > Double(w) + 0.5 {
                throw FieldProblem(field: "bbox", "extends past the image's right edge (x + width = \(b.x + b.width) > image.width \(w))")
            }
            if let h = d.image?.height, b.y + b.height > Double(h) + 0.5 {
                throw FieldProblem(field: "bbox", "extends past the image's bottom edge (y + height = \(b.y + b.height) > image.height \(h))")
            }
        }
        if let m = d.measurements {
            for (k, v) in m where !v.isFinite { throw FieldProblem(field: "measurements.\(k)", "must be a finite number") }
        }
        for (name, v) in [("zone", d.zone), ("production_order", d.productionOrder), ("shift", d.shift)] {
            if let v, v.count > 128 { throw FieldProblem(field: name, "is longer than 128 characters") }
        }
    }

    private static func text(_ s: String, _ field: String, max: Int) throws(FieldProblem) {
        if s.trimmingCharacters(in: .whitespaces).isEmpty { throw FieldProblem(field: field, "must not be empty") }
        if s.count > max { throw FieldProblem(field: field, "is longer than \(max) characters") }
        if s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw FieldProblem(field: field, "contains control characters")
        }
    }
}
