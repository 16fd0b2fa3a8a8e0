import Foundation
import Gateway
import MillwrightCore
import Store

/// The planner's board (`/`): what is open now and what closed in the last 24 hours, with its
/// evidence, priority, severity, who has it and why, its parts and its work order; orphaned
/// cameras with the line that would fix each; work orders that need a person. The page is a
/// shell; this is the HTML the script fetches with the user's key (`GET /ui/board`) and
/// swaps in whenever an event says something changed.
struct BoardPage {
    struct Item {
        var incident: IncidentView
        var workOrder: WorkOrderView?
        var area: String?
        /// The production line the camera watches (its `line` key).
        var productionLine: String?
        var location: String?
    }

    var items: [Item]
    var orphans: [OrphanGroup]
    var attention: [WorkOrderView]
    var settings: Settings
    var register: AssetRegister?
    var role: APIRole
    var now: Date

    static let closedWindow: TimeInterval = 24 * 3600
    static let incidentLimit = 200
    static let orphanLimit = 50
    static let attentionPhases = ["needs_review", "quarantined", "dead_letter"]

    static func load(_ gateway: Gateway, role: APIRole, now: Date = Date()) async throws -> BoardPage {
        let store = gateway.store
        let incidents = try await store.boardIncidents(closedSince: now.addingTimeInterval(-closedWindow), limit: incidentLimit)
        let cameras = Dictionary(gateway.settings.assets.cameras.map { ($0.camera, $0) }, uniquingKeysWith: { a, _ in a })
        var items: [Item] = []
        for i in incidents {
            // One read per incident with a work order: the payload holds the assignee, the why and the parts.
            var wo: WorkOrderView?
            if let summary = i.workOrder { wo = try await store.workOrder(id: summary.id) }
            let record = gateway.register?.records[i.asset]
            items.append(Item(incident: i, workOrder: wo, area: record?.area ?? cameras[i.cameraId]?.area,
                              productionLine: cameras[i.cameraId]?.productionLine,
                              location: wo?.payload?.location ?? record?.location))
        }
        var attention: [WorkOrderView] = []
        for phase in attentionPhases { attention += try await store.workOrders(shadow: nil, phase: phase, limit: 100) }
        return BoardPage(items: items, orphans: try await store.orphanGroups(limit: orphanLimit), attention: attention,
                         settings: gateway.settings, register: gateway.register, role: role, now: now)
    }

    func render() -> String {
        var out = filters()
        out += incidentsSection()
        out += orphansSection()
        out += attentionSection()
        return out
    }

    // MARK: Sections

    func filters() -> String {
        func select(_ name: String, _ label: String, _ values: [String]) -> String {
            var s = "<label>\(label) <select data-filter=\"\(name)\"><option value=\"\">all</option>"
            for v in Set(values).sorted() { s += "<option value=\"\(e(v))\">\(e(v))</option>" }
            return s + "</select></label>"
        }
        return "<form class=\"filters\" id=\"filters\" aria-label=\"Filters\">"
            + select("line", "Line", items.compactMap(\.productionLine))
            + select("area", "Area", items.compactMap(\.area))
            + select("priority", "Priority", items.map(\.incident.priority))
            + select("camera", "Camera", items.map(\.incident.cameraId))
            + "</form>"
    }

    func incidentsSection() -> String {
        let open = items.filter { $0.incident.state != "closed" }.count
        var out = "<section><h2>Incidents: \(open) open, \(items.count - open) closed in the last 24 h</h2>"
        guard !items.isEmpty else { return out + "<p class=\"muted\">No incident open and none closed in the last 24 hours.</p></section>" }
        out += "<div class=\"cards\">"
        for item in items { out += card(item) }
        return out + "</div></section>"
    }

    func card(_ item: Item) -> String {
        let i = item.incident, wo = item.workOrder, draft = wo?.payload
        var out = "<article class=\"incident\" data-incident=\"\(e(i.id))\" data-line=\"\(e(item.productionLine ?? ""))\" data-area=\"\(e(item.area ?? ""))\" data-priority=\"\(e(i.priority))\" data-camera=\"\(e(i.cameraId))\">"
        if let sha = i.evidenceSha256 {
            out += "<a href=\"/incidents/\(e(i.id))\"><img class=\"thumb\" width=\"320\" alt=\"evidence: \(e(i.defectClass)) on \(e(i.asset))\" data-src=\"/v1/evidence/\(e(sha))?w=320\"></a>"
        } else {
            out += "<div class=\"thumb none\">\(e(i.evidenceNote ?? "no image yet"))</div>"
        }
        out += "<div class=\"body\"><p class=\"tags\">" + Self.priorityTag(i.priority) + " " + Self.stateTag(i.state, resolution: i.resolution)
        if i.shadow { out += " <span class=\"tag shadow\">shadow</span>" }
        out += " <span class=\"age\">\(e(age(i)))</span></p>"
        out += "<h3><a href=\"/incidents/\(e(i.id))\">\(e(i.defectClass))\(i.zone.map { " · " + e($0) } ?? "") on \(e(draft?.assetName ?? i.asset))</a></h3>"
        out += "<dl>"
        out += "<dt>Severity</dt><dd><span class=\"severity\" title=\"\(e(Self.breakdown(i.severityBreakdown)))\">\(i.severity)</span> <span class=\"muted\">(\(e(i.priorityRule)))</span></dd>"
        out += "<dt>Asset</dt><dd>\(e(i.asset))\(item.location.map { " · " + e($0) } ?? "")\(item.area.map { " · area " + e($0) } ?? "")</dd>"
        out += "<dt>Camera</dt><dd>\(e(i.cameraId)) · \(i.detectionCount)× seen, up to \(Int((i.maxConfidence * 100).rounded()))%</dd>"
        if let who = draft?.assignee {
            out += "<dt>Assignee</dt><dd>\(e(who))\(draft?.assigneeName.map { " " + e($0) } ?? "")"
            if let why = draft?.assignmentReason { out += "<br><span class=\"why\">why: \(e(why))</span>" }
            out += "</dd>"
        }
        if let parts = draft?.partsStatus, !parts.isEmpty {
            out += "<dt>Parts</dt><dd><ul class=\"parts\">"
            for p in parts { out += "<li class=\"part-\(e(p.status.rawValue))\">\(e(p.text))</li>" }
            out += "</ul></dd>"
        }
        out += "<dt>Work order</dt><dd>"
        if let w = i.workOrder {
            out += "\(e(w.reference)) · \(e(Self.phaseLabel(w.phase)))"
            out += w.cmmsId.map { " · \(e(w.cmms)) <b>\(e($0))</b>" } ?? " · \(e(w.cmms))"
            if let s = w.cmmsStatus { out += " · CMMS status \(e(s))" }
        } else {
            out += "<span class=\"muted\">none</span>"
        }
        return out + "</dd></dl></div></article>"
    }

    func orphansSection() -> String {
        var out = "<section><h2>Orphaned detections by camera and reason</h2>"
        guard !orphans.isEmpty else { return out + "<p class=\"muted\">None: every camera maps to a known asset.</p></section>" }
        out += "<table><thead><tr><th>Camera</th><th>Why</th><th>Count</th><th>First seen</th><th>Last seen</th><th>The line that fixes it</th></tr></thead><tbody>"
        for o in orphans {
            let fix = OrphanFix.suggestion(camera: o.cameraId, settings: settings, register: register)
            out += "<tr><td>\(e(o.cameraId))</td><td>\(e(o.reason))</td><td>\(o.count)</td><td>\(e(Timestamps.format(o.firstSeen)))</td><td>\(e(Timestamps.format(o.lastSeen)))</td>"
            out += "<td><span class=\"muted\">\(e(fix.where))</span><pre class=\"fix\">\(e(fix.line))</pre></td></tr>"
        }
        return out + "</tbody></table></section>"
    }

    func attentionSection() -> String {
        var out = "<section><h2>Work orders that need a person</h2>"
        guard !attention.isEmpty else { return out + "<p class=\"muted\">None dead-lettered, quarantined or waiting for review.</p></section>" }
        out += "<table><thead><tr><th>Reference</th><th>Incident</th><th>CMMS</th><th>State</th><th>Attempts</th><th>Last error</th><th></th></tr></thead><tbody>"
        for w in attention {
            out += "<tr><td>\(e(w.reference))</td><td><a href=\"/incidents/\(e(w.incidentId))\">\(e(w.incidentId))</a></td><td>\(e(w.cmms))</td>"
            out += "<td>\(e(Self.phaseLabel(w.phase)))</td><td>\(w.attempts)</td><td class=\"err\">\(e(w.lastError ?? ""))</td><td>"
            out += role == .admin
                ? "<button type=\"button\" data-redrive=\"\(e(w.id))\">Re-drive</button>"
                : "<span class=\"muted\">re-drive needs an admin key</span>"
            out += "</td></tr>"
        }
        return out + "</tbody></table></section>"
    }

    // MARK: Pieces

    func age(_ i: IncidentView) -> String {
        if let closed = i.closedAt { return "closed \(Self.duration(now.timeIntervalSince(closed))) ago" }
        return "open \(Self.duration(now.timeIntervalSince(i.openedAt)))"
    }

    /// "45 s", "12 min", "3 h 5 min", "2 d 4 h".
    static func duration(_ seconds: TimeInterval) -> String {
        let s = seconds.isFinite ? max(0, min(seconds, 1e9)) : 0
        let total = Int(s)
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min" }
        if total < 86400 { return "\(total / 3600) h \(total % 3600 / 60) min" }
        return "\(total / 86400) d \(total % 86400 / 3600) h"
    }

    /// Text first, colour second: the word is always there.
    static func priorityTag(_ p: String) -> String {
        "<span class=\"tag p-\(e(p))\">\(e(p.uppercased()))</span>"
    }

    static func stateTag(_ state: String, resolution: String?) -> String {
        let label = resolution.map { "\(state) (\($0.replacingOccurrences(of: "_", with: " ")))" } ?? state
        return "<span class=\"tag state state-\(e(state))\">\(e(label))</span>"
    }

    static func phaseLabel(_ phase: String) -> String { phase.replacingOccurrences(of: "_", with: " ") }

    /// The severity's parts, for the hover title.
    static func breakdown(_ b: SeverityBreakdown?) -> String {
        guard let b else { return "no breakdown recorded" }
        func n(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v) }
        var s = "base \(n(b.base)) + size \(n(b.size)) + growth \(n(b.growth)) + criticality \(n(b.criticality)) + history \(n(b.history)) = \(b.total)"
        if !b.notes.isEmpty { s += "; " + b.notes.joined(separator: "; ") }
        return s
    }
}

private func e(_ s: String) -> String { HTML.escape(s) }

/// The change to the configuration that would map an orphaned camera's detections.
enum OrphanFix {
    /// `where` says which file and key; `line` is the text to add there.
    static func suggestion(camera: String, settings: Settings, register: AssetRegister?) -> (where: String, line: String) {
        let yamlCamera = yamlScalar(camera)
        guard let mapped = settings.assets.cameras.first(where: { $0.camera == camera }) else {
            return ("add under assets.cameras in the configuration:", "    - { camera: \(yamlCamera), asset: \"<CMMS asset id>\" }")
        }
        // Mapped, so the asset (or a zone's) is missing from the register.
        let candidates = [mapped.asset] + mapped.zones.values.sorted()
        let missing = register == nil ? [] : candidates.filter { register?.records[$0] == nil }
        guard !missing.isEmpty else { return ("nothing to add: the configuration now maps this camera; these detections came before", "") }
        let file = settings.assets.registerPath ?? "the asset register"
        let at = mapped.line.map { " (camera \(camera) is at line \($0) of the configuration)" } ?? ""
        return ("add to \(file), or correct the camera's asset\(at):", missing.map { "\(csvField($0)),<name>,<location>" }.joined(separator: "\n"))
    }

    /// A YAML plain scalar when safe, else double-quoted with escapes.
    static func yamlScalar(_ s: String) -> String {
        let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_.".unicodeScalars.contains($0) }
        if plain { return s }
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += String(format: "\\x%02X", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
