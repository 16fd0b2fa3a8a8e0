import Foundation
import Gateway
import MillwrightCore
import Store

/// One incident (`/incidents/{id}`): the annotated image at full size, every detection's box
/// over time, the audit trail's timeline, the work order as Millwright sent it and each
/// delivery attempt, and the verdict buttons; once the CMMS closed the work, what it says was
/// done — closure code, the technician's notes — and the completion photo beside the evidence. Like the board, the HTML the script fetches
/// with the user's key (`GET /ui/incidents/{id}`).
struct IncidentPage {
    var incident: IncidentView
    var workOrder: WorkOrderView?
    /// The newest detections with their boxes, oldest first.
    var strip: [DetectionView]
    var role: APIRole
    /// What was read back from the CMMS once the work order closed.
    var readback: Store.ReadbackRecord? = nil

    static let stripLimit = 24

    static func load(_ gateway: Gateway, id: String, role: APIRole) async throws -> IncidentPage? {
        let store = gateway.store
        guard let incident = try await store.incident(id: id) else { return nil }
        var workOrder: WorkOrderView?
        if let summary = incident.workOrder { workOrder = try await store.workOrder(id: summary.id) }
        var strip: [DetectionView] = []
        for d in (incident.detections ?? []).suffix(stripLimit) {
            if let full = try await store.detection(id: d.id) { strip.append(full) }
        }
        return IncidentPage(incident: incident, workOrder: workOrder, strip: strip, role: role, readback: try await store.readback(incidentId: id))
    }

    func render() -> String {
        let i = incident
        var out = "<section class=\"incident-head\" data-incident=\"\(e(i.id))\"><h2>\(e(i.defectClass))\(i.zone.map { " · " + e($0) } ?? "") on \(e(workOrder?.payload?.assetName ?? i.asset))</h2>"
        out += "<p class=\"tags\">" + BoardPage.priorityTag(i.priority) + " " + BoardPage.stateTag(i.state, resolution: i.resolution)
        out += " <span class=\"severity\" title=\"\(e(BoardPage.breakdown(i.severityBreakdown)))\">severity \(i.severity)</span></p>"
        out += "<p>Asset \(e(i.asset)) · camera \(e(i.cameraId)) · \(i.detectionCount) detections from \(e(Timestamps.format(i.firstSeen))) to \(e(Timestamps.format(i.lastSeen)))</p>"
        out += verdict()
        out += "</section>"
        out += evidenceSection()
        out += closureSection()
        out += stripSection()
        out += timelineSection()
        out += workOrderSection()
        return out
    }

    func evidence() -> String {
        if let sha = incident.evidenceSha256 {
            return "<img class=\"evidence\" alt=\"annotated evidence for incident \(e(incident.id))\" data-src=\"/v1/evidence/\(e(sha))\">"
        }
        return "<p class=\"muted\">\(e(incident.evidenceNote ?? "no evidence image"))</p>"
    }

    /// The evidence alone, or before (evidence) and after (the completion photo from the CMMS)
    /// side by side; the photo is in the evidence store, served by the same role-checked route.
    func evidenceSection() -> String {
        guard let photo = readback?.photoSHA256 else { return "<section><h2>Evidence</h2>" + evidence() + "</section>" }
        var out = "<section><h2>Before and after</h2><div class=\"cards before-after\">"
        out += "<figure>" + evidence() + "<figcaption>Before: the annotated evidence</figcaption></figure>"
        out += "<figure><img class=\"evidence completion\" alt=\"completion photo from the CMMS for incident \(e(incident.id))\" data-src=\"/v1/evidence/\(e(photo))\">"
        out += "<figcaption>After: the completion photo\(readback?.photoName.map { " " + e($0) } ?? "") from the CMMS</figcaption></figure>"
        return out + "</div></section>"
    }

    /// Closure code, the technician's notes and what was refused, as read back from the CMMS.
    func closureSection() -> String {
        guard let r = readback else { return "" }
        var out = "<section class=\"closure\"><h2>Closed in the CMMS</h2>"
        switch r.outcome {
        case .unsupported:
            return out + "<p class=\"muted\">\(e(r.refused.first ?? "this CMMS's connector reads nothing back"))</p></section>"
        case .failed:
            return out + "<p class=\"err\">The closure could not be read back: \(e(r.refused.first ?? "no answer"))</p></section>"
        case .read:
            break
        }
        out += "<dl><dt>Closure code</dt><dd>\(r.closureCode.map { "<b>" + e($0) + "</b>" } ?? "<span class=\"muted\">none given</span>")</dd>"
        if let at = r.readAt { out += "<dt>Read back</dt><dd>\(e(Timestamps.format(at)))</dd>" }
        out += "</dl><h3>Technician's notes</h3>"
        if r.notes.isEmpty {
            out += "<p class=\"muted\">None.</p>"
        } else {
            out += "<ul class=\"notes\">"
            for n in r.notes {
                let who = [n.author, n.at.map(Timestamps.format)].compactMap { $0 }.joined(separator: ", ")
                out += "<li><pre>\(e(n.text))</pre>\(who.isEmpty ? "" : "<span class=\"muted\">\(e(who))</span>")</li>"
            }
            out += "</ul>"
        }
        if !r.refused.isEmpty {
            out += "<h3>Not taken</h3><ul>" + r.refused.map { "<li>\(e($0))</li>" }.joined() + "</ul>"
        }
        return out + "</section>"
    }

    func verdict() -> String {
        let given = (incident.timeline ?? []).filter { $0.kind == "feedback" }
        var out = "<div class=\"verdict\">"
        for f in given {
            let v = f.data["verdict"]?.stringValue ?? "?"
            out += "<p class=\"given\">Verdict: <b>\(e(v.replacingOccurrences(of: "_", with: " ")))</b> by \(e(f.data["by"]?.stringValue ?? "?")) at \(e(Timestamps.format(f.at)))</p>"
        }
        for sig in incident.signatures ?? [] {
            out += "<p class=\"signature\">Signed (\(e(sig.action))): \(e(sig.printed))</p>"
        }
        if role == .operator || role == .admin {
            out += "<button type=\"button\" data-verdict=\"false_positive\" data-incident=\"\(e(incident.id))\">False positive</button> "
            out += "<button type=\"button\" data-verdict=\"confirmed\" data-incident=\"\(e(incident.id))\">Confirmed</button>"
        } else {
            out += "<p class=\"muted\">A verdict needs an operator key.</p>"
        }
        return out + "<p id=\"verdict-result\" role=\"status\"></p></div>"
    }

    func stripSection() -> String {
        var out = "<section><h2>Boxes over time</h2>"
        guard !strip.isEmpty else { return out + "<p class=\"muted\">No detections recorded.</p></section>" }
        if (incident.detections?.count ?? 0) > strip.count { out += "<p class=\"muted\">The newest \(strip.count) of \(incident.detectionCount).</p>" }
        out += "<ol class=\"strip\">"
        for d in strip { out += "<li>" + Self.frame(d) + "<span>\(e(Timestamps.format(d.timestamp)))<br>\(e(d.status.replacingOccurrences(of: "_", with: " "))) · \(Int((d.confidence * 100).rounded()))%</span></li>" }
        return out + "</ol></section>"
    }

    /// The frame as an outline, the box in it, drawn to scale (SVG, no script).
    static func frame(_ d: DetectionView) -> String {
        let box = d.detection?.bbox
        func finite(_ v: Double?) -> Double? { v.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } }
        let fw = finite(d.detection?.image?.width.map(Double.init)) ?? finite(box.map { $0.x + $0.width }).map { max($0, 1) } ?? 1
        let fh = finite(d.detection?.image?.height.map(Double.init)) ?? finite(box.map { $0.y + $0.height }).map { max($0, 1) } ?? 1
        func n(_ v: Double) -> String { String(format: "%.1f", min(max(v, 0), 1e6)) }
        var svg = "<svg class=\"frame\" viewBox=\"0 0 \(n(fw)) \(n(fh))\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"box of \(e(d.defectClass))\">"
        svg += "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"\(n(fw))\" height=\"\(n(fh))\"/>"
        if let b = box, let x = finite(b.x), let y = finite(b.y), let w = finite(b.width), let h = finite(b.height) {
            svg += "<rect class=\"box\" x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" vector-effect=\"non-scaling-stroke\"/>"
        }
        return svg + "</svg>"
    }

    func timelineSection() -> String {
        var out = "<section><h2>Timeline (audit trail)</h2>"
        let entries = incident.timeline ?? []
        guard !entries.isEmpty else { return out + "<p class=\"muted\">No audit records.</p></section>" }
        out += "<table><thead><tr><th>Time</th><th>What</th><th>Details</th></tr></thead><tbody>"
        for t in entries {
            var data = ""
            CanonicalJSON.write(.object(t.data), into: &data)
            out += "<tr><td>\(e(Timestamps.format(t.at)))</td><td>\(e(t.kind.replacingOccurrences(of: "_", with: " ")))</td><td><code>\(e(String(data.prefix(2000))))</code></td></tr>"
        }
        return out + "</tbody></table></section>"
    }

    func workOrderSection() -> String {
        var out = "<section><h2>Work order</h2>"
        guard let w = workOrder else { return out + "<p class=\"muted\">None (shadow mode, or not created).</p></section>" }
        out += "<p>\(e(w.reference)) · \(e(w.cmms)) (\(e(w.cmmsKind))) · \(e(BoardPage.phaseLabel(w.phase)))\(w.cmmsId.map { " · CMMS id <b>\(e($0))</b>" } ?? "")\(w.cmmsStatus.map { " · CMMS status " + e($0) } ?? "")</p>"
        out += "<h3>Delivery attempts</h3>"
        let attempts = w.deliveryAttempts ?? []
        if attempts.isEmpty {
            out += "<p class=\"muted\">None yet.</p>"
        } else {
            out += "<table><thead><tr><th>Time</th><th>Action</th><th>Outcome</th><th>Took</th><th>Detail</th></tr></thead><tbody>"
            for a in attempts {
                out += "<tr><td>\(e(Timestamps.format(a.at)))</td><td>\(e(a.action))</td><td>\(e(a.outcome))</td><td>\(Int(a.durationMs.isFinite ? min(max(a.durationMs, 0), 1e9).rounded() : 0)) ms</td><td>\(e(a.detail ?? ""))</td></tr>"
            }
            out += "</tbody></table>"
        }
        // The draft is the connector's input; each connector maps it to its CMMS's fields.
        out += "<h3>Work order as sent to the connector</h3>"
        if let payload = w.payload, let data = try? apiPrettyEncoder.encode(payload) {
            out += "<pre class=\"payload\">\(e(String(decoding: data, as: UTF8.self)))</pre>"
        } else {
            out += "<p class=\"muted\">No payload recorded.</p>"
        }
        return out + "</section>"
    }
}

private func e(_ s: String) -> String { HTML.escape(s) }

/// `apiEncoder`, indented for reading.
let apiPrettyEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
    e.keyEncodingStrategy = .convertToSnakeCase
    e.dateEncodingStrategy = .custom { d, enc in var c = enc.singleValueContainer(); try c.encode(Timestamps.format(d)) }
    return e
}()
