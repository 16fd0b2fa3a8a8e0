import Foundation
import MillwrightCore

/// One detection box to draw on a frame.
public struct BoxAnnotation: Sendable, Equatable {
    /// Box in pixels of the *source frame* (top-left origin), as in `Detection.bbox`.
    public var box: BoundingBox
    public var defectClass: String
    /// 0…1.
    public var confidence: Double
    public var detectionId: String?
    /// Severity 0…100 for this box's colour; nil uses the render call's severity.
    public var severity: Int?

    public init(box: BoundingBox, defectClass: String, confidence: Double, detectionId: String? = nil, severity: Int? = nil) {
        self.box = box; self.defectClass = defectClass; self.confidence = confidence
        self.detectionId = detectionId; self.severity = severity
    }

    /// From a native detection; nil when it has no box.
    public init?(detection: Detection, severity: Int? = nil) {
        guard let b = detection.bbox else { return nil }
        self.init(box: b, defectClass: detection.defectClass, confidence: detection.confidence,
                  detectionId: detection.detectionId, severity: severity)
    }

    /// The box moved inside a `width`×`height` frame: at least one pixel of it on the frame,
    /// so a box the camera placed off the frame is drawn at the nearest edge, never outside.
    public func clamped(toWidth width: Int, height: Int) -> BoxAnnotation {
        func clamp(_ v: Double, _ lo: Double, _ hi: Double) -> Double { v.isFinite ? min(hi, max(lo, v)) : lo }
        let W = Double(max(1, width)), H = Double(max(1, height))
        let x = clamp(box.x, 0, W - 1), y = clamp(box.y, 0, H - 1)
        let w = clamp(box.width, 1, W - x), h = clamp(box.height, 1, H - y)
        var out = self
        out.box = BoundingBox(x: x, y: y, width: w, height: h)
        return out
    }

    /// The tag text: `crack 93% CAM-07-1732155240123-0`.
    public var labelText: String {
        let pct = Checked.percent(confidence)
        var s = "\(defectClass) \(pct)%"
        if let id = detectionId, !id.isEmpty { s += " \(id)" }
        return s
    }
}

/// The caption strip under the frame: where and when.
public struct BannerInfo: Sendable, Equatable {
    public var cameraId: String
    public var assetId: String?
    public var assetName: String?
    /// Detection time (shown in UTC and plant-local time).
    public var timestamp: Date
    /// IANA identifier of the plant's time zone, e.g. `Europe/Berlin`.
    public var timeZoneIdentifier: String
    /// Optional extra text (zone, work-order number, …), shown after the asset.
    public var note: String?

    public init(cameraId: String, assetId: String? = nil, assetName: String? = nil, timestamp: Date,
                timeZoneIdentifier: String = "UTC", note: String? = nil) {
        self.cameraId = cameraId; self.assetId = assetId; self.assetName = assetName
        self.timestamp = timestamp; self.timeZoneIdentifier = timeZoneIdentifier; self.note = note
    }

    /// `Asset 10004712 Head pulley` (or `no asset mapping`).
    public var assetText: String {
        switch (assetId, assetName) {
        case let (id?, name?) where !name.isEmpty: return "Asset \(id) \(name)"
        case let (id?, _): return "Asset \(id)"
        case let (nil, name?): return "Asset \(name)"
        case (nil, nil): return "no asset mapping"
        }
    }

    /// `2026-11-21 02:14:00 UTC`
    public var utcText: String { TimeText.format(timestamp, zone: TimeZone(identifier: "UTC")!) + " UTC" }

    /// `03:14:00 +01:00 Europe/Berlin` (the date is included when it differs from UTC's).
    public var localText: String {
        guard let tz = TimeZone(identifier: timeZoneIdentifier) else {
            return "(unknown time zone \(timeZoneIdentifier))"
        }
        let local = TimeText.format(timestamp, zone: tz)
        let utc = TimeText.format(timestamp, zone: TimeZone(identifier: "UTC")!)
        let shown = local.prefix(10) == utc.prefix(10) ? String(local.dropFirst(11)) : local
        return "\(shown) \(TimeText.offset(timestamp, zone: tz)) \(timeZoneIdentifier)"
    }
}

enum TimeText {
    static func format(_ date: Date, zone: TimeZone) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = zone
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func p2(_ v: Int?) -> String { let v = v ?? 0; return v < 10 ? "0\(v)" : "\(v)" }
        return "\(c.year ?? 0)-\(p2(c.month))-\(p2(c.day)) \(p2(c.hour)):\(p2(c.minute)):\(p2(c.second))"
    }

    static func offset(_ date: Date, zone: TimeZone) -> String {
        let s = zone.secondsFromGMT(for: date)
        let sign = s < 0 ? "-" : "+"
        let a = abs(s) / 60
        let h = a / 60, m = a % 60
        return "\(sign)\(h < 10 ? "0" : "")\(h):\(m < 10 ? "0" : "")\(m)"
    }
}

/// Severity → colour bands, aligned with the default priority rules (30 / 60 / 85).
public enum SeverityPalette {
    public static let low = RGB(46, 204, 64)        // green
    public static let medium = RGB(255, 196, 0)     // amber
    public static let high = RGB(255, 120, 0)       // orange
    public static let critical = RGB(235, 30, 35)   // red

    public static func color(for severity: Int) -> RGB {
        switch severity {
        case ..<30: return low
        case 30..<60: return medium
        case 60..<85: return high
        default: return critical
        }
    }

    public static func band(for severity: Int) -> String {
        switch severity {
        case ..<30: return "LOW"
        case 30..<60: return "MEDIUM"
        case 60..<85: return "HIGH"
        default: return "CRITICAL"
        }
    }
}
