import Foundation

/// Severity 0…100 with every contribution kept, so a planner can see why a crack on
/// the head pulley outranks corrosion on a guard rail.
public struct SeverityBreakdown: Sendable, Equatable, Codable {
    /// The defect class's configured base score.
    public var base: Double
    /// Defect size: bbox area relative to the frame, or a measured length.
    public var size: Double
    /// Growth of the defect between the incident's first and latest detection.
    public var growth: Double
    /// Asset criticality A/B/C.
    public var criticality: Double
    /// Earlier incidents on the same asset in the last 90 days.
    public var history: Double
    public var total: Int
    public var notes: [String]

    public init(base: Double, size: Double, growth: Double, criticality: Double, history: Double, total: Int, notes: [String]) {
        self.base = base; self.size = size; self.growth = growth; self.criticality = criticality
        self.history = history; self.total = total; self.notes = notes
    }
}

public enum SeverityModel {
    public static let maxSize = 15.0
    public static let maxGrowth = 10.0
    public static let maxHistory = 10.0
    public static let historyWindow: TimeInterval = 90 * 86400

    public struct Input: Sendable {
        public var base: Double
        public var bbox: BoundingBox?
        public var frameWidth: Int?
        public var frameHeight: Int?
        public var measurements: [String: Double]?
        /// Bbox area of the incident's first detection, when this is a repeat.
        public var firstArea: Double?
        public var criticality: Criticality
        public var priorIncidents: Int
        public init(base: Double, bbox: BoundingBox?, frameWidth: Int?, frameHeight: Int?,
                    measurements: [String: Double]?, firstArea: Double?, criticality: Criticality, priorIncidents: Int) {
            self.base = base; self.bbox = bbox; self.frameWidth = frameWidth; self.frameHeight = frameHeight
            self.measurements = measurements; self.firstArea = firstArea; self.criticality = criticality
            self.priorIncidents = priorIncidents
        }
    }

    public static func score(_ i: Input) -> SeverityBreakdown {
        var notes: [String] = []
        var size = 0.0
        if let length = i.measurements?["length_mm"] {
            // 1 point per mm up to the cap: a 12 mm crack is serious whatever its pixels.
            size = min(maxSize, max(0, length))
            notes.append("length \(format(length)) mm")
        } else if let b = i.bbox, let w = i.frameWidth, let h = i.frameHeight, w > 0, h > 0 {
            let ratio = b.area / (Double(w) * Double(h))
            // Square root so small defects still register; 5 % of the frame or more is the cap.
            size = ratio.isFinite ? min(maxSize, maxSize * (ratio / 0.05).squareRoot()) : 0
            notes.append("box \(format(ratio * 100))% of frame")
        }
        var growth = 0.0
        if let first = i.firstArea, first > 0, let area = i.bbox?.area, area > first {
            let g = area / first - 1
            growth = g.isFinite ? min(maxGrowth, maxGrowth * g) : maxGrowth
            notes.append("grew \(Checked.display(g * 100))% since first seen")
        }
        let crit: Double = switch i.criticality { case .a: 15; case .b: 5; case .c: 0 }
        let history = min(maxHistory, Double(i.priorIncidents) * 3)
        if i.priorIncidents > 0 { notes.append("\(i.priorIncidents) earlier incident(s) on this asset in 90 days") }
        let raw = i.base + size + growth + crit + history
        // Every input is bounded by validation, but a NaN or ∞ here must cost a score, not the process.
        let total = Checked.int(raw, clampedTo: 0...100)
        return SeverityBreakdown(base: i.base, size: round1(size), growth: round1(growth), criticality: crit,
                                 history: history, total: total, notes: notes)
    }

    private static func round1(_ v: Double) -> Double { (v * 10).rounded() / 10 }
    private static func format(_ v: Double) -> String { String(format: "%.1f", v) }
}
