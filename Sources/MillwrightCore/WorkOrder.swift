import Foundation

/// Everything a technician needs, in CMMS-neutral form (PRODUCT §6 "every work order is
/// complete"). Connectors map it onto their system's fields.
public struct WorkOrderDraft: Sendable, Equatable, Codable {
    /// Our idempotency reference (≤ 20 characters: fits SAP's MaintNotifExtReferenceNumber).
    public var reference: String
    public var incidentId: String
    public var title: String
    public var description: String
    public var asset: String
    public var assetName: String?
    public var location: String?
    public var functionalLocation: String?
    public var defectClass: String
    public var zone: String?
    public var severity: Int
    public var severityBreakdown: SeverityBreakdown
    public var priority: Priority
    public var priorityRule: String
    public var confidence: Double
    public var camera: String
    public var detectedAt: Date
    public var detectionId: String
    public var productionOrder: String?
    public var shift: String?
    public var procedure: String?
    public var parts: [PartRequirement]
    public var skills: [String]
    public var evidenceURL: String?
    public var site: String
    /// Routing: the technician id (or fallback queue), the name, and why — nil without a roster.
    public var assignee: String?
    public var assigneeName: String?
    public var assignmentReason: String?
    /// Stock status of each required part after the reservation; nil without an inventory.
    public var partsStatus: [PartLine]?

    public init(reference: String, incidentId: String, title: String, description: String, asset: String, assetName: String?, location: String?, functionalLocation: String?, defectClass: String, zone: String?, severity: Int, severityBreakdown: SeverityBreakdown, priority: Priority, priorityRule: String, confidence: Double, camera: String, detectedAt: Date, detectionId: String, productionOrder: String?, shift: String?, procedure: String?, parts: [PartRequirement], skills: [String], evidenceURL: String?, site: String) {
        self.reference = reference
        self.incidentId = incidentId
        self.title = title
        self.description = description
        self.asset = asset
        self.assetName = assetName
        self.location = location
        self.functionalLocation = functionalLocation
        self.defectClass = defectClass
        self.zone = zone
        self.severity = severity
        self.severityBreakdown = severityBreakdown
        self.priority = priority
        self.priorityRule = priorityRule
        self.confidence = confidence
        self.camera = camera
        self.detectedAt = detectedAt
        self.detectionId = detectionId
        self.productionOrder = productionOrder
        self.shift = shift
        self.procedure = procedure
        self.parts = parts
        self.skills = skills
        self.evidenceURL = evidenceURL
        self.site = site
    }
}

public enum WorkOrderComposer {
    public static let maxTitle = 40

    public static func reference(incidentId: String) -> String {
        "MW-" + String(incidentId.replacingOccurrences(of: "-", with: "").prefix(12)).uppercased()
    }

    /// The draft's fields, with no text yet: routing, the procedure and the part lines are
    /// added before `composeText` writes the text once.
    public static func fields(incidentId: String, detection d: Detection, mapped: MappedDetection, rule: DefectRule,
                              severity: SeverityBreakdown, priority: PriorityDecision, site: SiteSettings) -> WorkOrderDraft {
        let asset = mapped.key.asset
        let name = mapped.registerEntry?.name
        let title = shortTitle(defect: d.defectClass, asset: name ?? asset, zone: d.zone)
        return WorkOrderDraft(
            reference: reference(incidentId: incidentId), incidentId: incidentId, title: title, description: "",
            asset: asset, assetName: name, location: mapped.registerEntry?.location,
            functionalLocation: mapped.registerEntry?.functionalLocation, defectClass: d.defectClass, zone: d.zone,
            severity: severity.total, severityBreakdown: severity, priority: priority.priority,
            priorityRule: priority.rule, confidence: d.confidence, camera: d.cameraId, detectedAt: d.timestamp,
            detectionId: d.detectionId ?? "", productionOrder: d.productionOrder, shift: d.shift,
            procedure: rule.procedure, parts: rule.parts, skills: rule.skills, evidenceURL: nil, site: site.name)
    }

    /// The work-order text, from the draft's fields; the only place it is written.
    public static func composeText(_ draft: inout WorkOrderDraft, timezone: String) {
        draft.description = longText(draft, timezone: timezone)
    }

    /// A concise title that fits the shortest CMMS title field (SAP: 40 characters).
    public static func shortTitle(defect: String, asset: String, zone: String?) -> String {
        let base = "\(defect.capitalized) at \(asset)" + (zone.map { " / \($0)" } ?? "")
        return base.count <= maxTitle ? base : String(base.prefix(maxTitle - 1)) + "…"
    }

    static func longText(_ w: WorkOrderDraft, timezone: String) -> String {
        let tz = TimeZone(identifier: timezone) ?? .gmt
        var local = Date.ISO8601FormatStyle(timeZone: tz)
        local = local.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .colon)
        var lines: [String] = []
        lines.append("Defect: \(w.defectClass) detected by camera \(w.camera) (confidence \(String(format: "%.2f", w.confidence)))")
        lines.append("Asset: \(w.asset)" + (w.assetName.map { " – \($0)" } ?? "") + (w.zone.map { ", zone \($0)" } ?? ""))
        if let loc = w.location ?? w.functionalLocation { lines.append("Location: \(loc)") }
        lines.append("Detected: \(Timestamps.format(w.detectedAt)) UTC (\(w.detectedAt.formatted(local)) \(tz.identifier))")
        let b = w.severityBreakdown
        lines.append("Severity: \(w.severity)/100 (base \(fmt(b.base)), size +\(fmt(b.size)), growth +\(fmt(b.growth)), criticality +\(fmt(b.criticality)), history +\(fmt(b.history)))"
            + (b.notes.isEmpty ? "" : " – " + b.notes.joined(separator: "; ")))
        lines.append("Priority: \(w.priority.rawValue) (\(w.priorityRule))")
        if let po = w.productionOrder { lines.append("Production order: \(po)") }
        if let s = w.shift { lines.append("Shift: \(s)") }
        if let who = w.assignee {
            lines.append("Assigned: \(who)" + (w.assigneeName.map { " (\($0))" } ?? "") + (w.assignmentReason.map { " – why: \($0)" } ?? ""))
        }
        if !w.skills.isEmpty { lines.append("Skills: " + w.skills.joined(separator: ", ")) }
        if let lines_ = w.partsStatus, !lines_.isEmpty {
            lines.append("Parts: " + lines_.map(\.text).joined(separator: "; "))
        } else if !w.parts.isEmpty {
            lines.append("Parts: " + w.parts.map { "\($0.qty) × \($0.sku)" }.joined(separator: ", "))
        }
        lines.append("Evidence: " + (w.evidenceURL ?? "annotated image pending"))
        lines.append("Detection: \(w.detectionId) · Millwright reference \(w.reference) · site \(w.site)")
        // The procedure last: it is the longest part, and the one a CMMS cuts first.
        if let p = w.procedure { lines.append(p.hasPrefix("Procedure:") ? "\n" + p : "Procedure: \(p)") }
        return lines.joined(separator: "\n")
    }

    private static func fmt(_ v: Double) -> String {
        if let whole = Checked.exactInt(v, in: -1_000_000_000...1_000_000_000) { return String(whole) }
        return String(format: "%.1f", v)
    }
}

extension WorkOrderDraft {
    /// The annotated image is rendered at delivery, after the text was composed: link it and
    /// let the composer rewrite the text with the link in it.
    public mutating func linkEvidence(_ url: String, timezone: String) {
        evidenceURL = url
        WorkOrderComposer.composeText(&self, timezone: timezone)
    }
}
