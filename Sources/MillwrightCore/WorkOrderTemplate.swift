import Foundation

/// Plant-specific titles and CMMS fields, written as templates over the work order:
/// `"{defect} {zone} – {asset_name}"`. Unknown placeholders are refused when the config is
/// read; a value the work order does not have renders empty.
public struct WorkOrderTemplate: Sendable, Equatable {
    public static let placeholders: [String: @Sendable (WorkOrderDraft) -> String?] = [
        "defect": { $0.defectClass },
        "asset": { $0.asset },
        "asset_name": { $0.assetName },
        "location": { $0.location },
        "functional_location": { $0.functionalLocation },
        "zone": { $0.zone },
        "severity": { String($0.severity) },
        "priority": { $0.priority.rawValue },
        "confidence": { String(format: "%.2f", $0.confidence) },
        "camera": { $0.camera },
        "detected_at": { Timestamps.format($0.detectedAt) },
        "detection_id": { $0.detectionId },
        "production_order": { $0.productionOrder },
        "shift": { $0.shift },
        "reference": { $0.reference },
        "incident": { $0.incidentId },
        "site": { $0.site },
        "technician": { $0.assignee },
    ]

    public let text: String
    public init(_ text: String) { self.text = text }

    /// Placeholder names used in `text` that are not known, in order of appearance.
    public static func unknownPlaceholders(in text: String) -> [String] {
        names(in: text).filter { placeholders[$0] == nil }
    }

    static func names(in text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// The filled-in text; runs of spaces left by empty values are collapsed.
    public func render(_ w: WorkOrderDraft) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            out += Self.placeholders[name].flatMap { $0(w) } ?? ""
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
