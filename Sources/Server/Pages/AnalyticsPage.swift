import Foundation
import Gateway
import MillwrightCore
import Store

/// Quality analytics for people (`/analytics`): per-group precision and volume, a chart of both
/// over time drawn here as SVG, and suggested thresholds with the YAML that sets them. Like the
/// board, the page is a shell and this is the HTML its script fetches with the key
/// (`GET /ui/analytics`).
struct AnalyticsPage {
    var report: QualityReport
    var suggestions: [ThresholdSuggestion]
    /// Why there are no suggestions, when there are none to show for a reason other than no verdicts.
    var suggestionsNote: String?
    var role: APIRole
    /// Defect classes for the simulation form: configured and seen.
    var classes: [String]

    static let suggestionWindow: TimeInterval = 30 * 86_400

    static func load(_ gateway: Gateway, by: QualityDimension, since: Date, role: APIRole, now: Date = Date()) async throws -> AnalyticsPage {
        let report = try await APIServer.qualityReport(gateway.store, by: by, since: since, now: now)
        let facts = try await gateway.store.analyticsFacts(since: now.addingTimeInterval(-suggestionWindow), limit: APIServer.analyticsDetectionLimit, models: false)
        let classes = Set(gateway.settings.defects.keys).union(facts.detections.map(\.defectClass)).sorted()
        guard !facts.truncated else {
            return AnalyticsPage(report: report, suggestions: [],
                                 suggestionsNote: "More than \(APIServer.analyticsDetectionLimit) detections in the last 30 days: too many to replay here; use POST /v1/analytics/simulate with a later since.",
                                 role: role, classes: classes)
        }
        let suggestions = ThresholdSuggestion.suggest(facts.detections, incidents: facts.replayIncidents, settings: gateway.settings)
        return AnalyticsPage(report: report, suggestions: suggestions, suggestionsNote: nil, role: role, classes: classes)
    }

    func render() -> String {
        dimensionLinks() + groupsSection() + chartSection() + suggestionsSection() + simulationSection() + exportSection()
    }

    /// The active-learning loop's download for the vision team (operator and admin; the server
    /// checks the role again): judged detections' frames with labels, as GET /v1/exports/training.
    func exportSection() -> String {
        guard role == .operator || role == .admin else { return "" }
        return """
            <section><h2>Training export</h2><p class="muted">Frames of detections with a verdict in the last 30 days, with COCO or YOLO labels and a manifest; false positives are negative samples (GET /v1/exports/training).</p>
            <form id="export" class="filters"><label>Format <select name="format"><option value="coco">COCO</option><option value="yolo">YOLO</option></select></label>
            <label>Verdicts <select name="verdict"><option value="all">all</option><option value="confirmed">confirmed</option><option value="false_positive">false positive</option></select></label>
            <button type="submit">Download zip</button></form><p id="export-result" role="status"></p></section>
            """
    }

    /// Operators and admins try a threshold on the last 30 days; the server checks the role again.
    func simulationSection() -> String {
        guard role == .operator || role == .admin, !classes.isEmpty else { return "" }
        var out = "<section><h2>Try a threshold</h2><p class=\"muted\">Replays the last 30 days of detections with this rule and compares with the configured one (POST /v1/analytics/simulate).</p>"
        out += "<form id=\"simulate\" class=\"filters\"><label>Defect class <select name=\"defect_class\">"
        for c in classes { out += "<option value=\"\(e(c))\">\(e(c))</option>" }
        out += "</select></label><label>Camera <input name=\"camera\" placeholder=\"every camera\" maxlength=\"200\"></label>"
        out += "<label>min_confidence <input name=\"min_confidence\" type=\"number\" min=\"0\" max=\"1\" step=\"0.001\"></label>"
        out += "<label>Confirm: detections <input name=\"detections\" type=\"number\" min=\"1\" max=\"1000\" step=\"1\"></label>"
        out += "<label>within <input name=\"within\" placeholder=\"10s\" maxlength=\"16\"></label>"
        out += "<button type=\"submit\">Simulate</button></form><p id=\"simulate-result\" role=\"status\"></p></section>"
        return out
    }

    func dimensionLinks() -> String {
        var out = "<nav class=\"filters\" aria-label=\"Group by\">Group by: "
        for d in QualityDimension.allCases {
            let label = d.rawValue.replacingOccurrences(of: "_", with: " ")
            out += d == report.by ? "<b aria-current=\"page\">\(e(label))</b> " : "<a href=\"/analytics?by=\(e(d.rawValue))\">\(e(label))</a> "
        }
        return out + "<span class=\"muted\">since \(e(Timestamps.format(report.since)))</span></nav>"
    }

    func groupsSection() -> String {
        var out = "<section><h2>Quality by \(e(report.by.rawValue.replacingOccurrences(of: "_", with: " ")))</h2>"
        if report.detectionsTruncated {
            out += "<p class=\"err\">Only the newest \(APIServer.analyticsDetectionLimit) detections are counted.</p>"
        }
        guard !report.groups.isEmpty else { return out + "<p class=\"muted\">No detections or incidents in this period.</p></section>" }
        out += "<table class=\"quality\"><thead><tr><th>\(e(report.by.rawValue))</th><th>Detections</th><th>Incidents</th><th>Confirmed</th><th>False positive</th><th>Not judged</th>"
        out += "<th>Precision (95 % interval)</th><th>Median to acknowledge</th><th>Median to complete</th></tr></thead><tbody>"
        for g in report.groups {
            out += "<tr data-group=\"\(e(g.key))\" data-false-positive=\"\(g.falsePositive)\"><td>\(e(g.key))</td><td>\(g.detections)</td><td>\(g.incidents)</td><td>\(g.confirmed)</td><td>\(g.falsePositive)</td><td>\(g.unjudged)</td>"
            out += "<td>" + (g.precision.map { "\(Self.percent($0.value)) <span class=\"muted\">(\(Self.percent($0.low))–\(Self.percent($0.high)))</span>" } ?? "<span class=\"muted\">no verdicts</span>") + "</td>"
            out += "<td>\(Self.duration(g.medianSecondsToAcknowledge))</td><td>\(Self.duration(g.medianSecondsToComplete))</td></tr>"
        }
        return out + "</tbody></table></section>"
    }

    /// Bars for detections (left scale), a line with dots for precision (right scale, 0–100 %).
    /// Presentation attributes only: the CSP allows no inline style.
    func chartSection() -> String {
        let series = report.series
        let w = 720.0, h = 220.0, left = 48.0, right = 48.0, top = 12.0, bottom = 28.0
        let plotW = w - left - right, plotH = h - top - bottom
        let maxVolume = max(1, series.map(\.detections).max() ?? 1)
        let slot = plotW / Double(max(1, series.count))
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-labelledby=\"chart-title chart-desc\">"
        svg += "<title id=\"chart-title\">Detections and precision over time</title>"
        svg += "<desc id=\"chart-desc\">Bars: detections per period (left scale, up to \(maxVolume)). Line with dots: precision of judged incidents opened in the period (right scale, 0 to 100 %).</desc>"
        svg += "<line x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(left + plotW)\" y2=\"\(top + plotH)\" stroke=\"#667\"/>"
        svg += "<text x=\"\(left - 4)\" y=\"\(top + 10)\" text-anchor=\"end\" font-size=\"11\" fill=\"#445\">\(maxVolume)</text>"
        svg += "<text x=\"\(left - 4)\" y=\"\(top + plotH)\" text-anchor=\"end\" font-size=\"11\" fill=\"#445\">0</text>"
        svg += "<text x=\"\(left + plotW + 4)\" y=\"\(top + 10)\" font-size=\"11\" fill=\"#1a5fb4\">100 %</text>"
        svg += "<text x=\"\(left + plotW + 4)\" y=\"\(top + plotH)\" font-size=\"11\" fill=\"#1a5fb4\">0 %</text>"
        var points: [String] = []
        for (i, b) in series.enumerated() {
            let x = left + Double(i) * slot
            let bh = plotH * Double(b.detections) / Double(maxVolume)
            svg += "<rect class=\"bar\" x=\"\(Self.n(x + slot * 0.1))\" y=\"\(Self.n(top + plotH - bh))\" width=\"\(Self.n(slot * 0.8))\" height=\"\(Self.n(bh))\" fill=\"#b8c2d6\">"
            svg += "<title>\(e(Timestamps.format(b.start))): \(b.detections) detections, \(b.incidents) incidents</title></rect>"
            if let p = b.precision {
                let cx = x + slot / 2, cy = top + plotH * (1 - p)
                points.append("\(Self.n(cx)),\(Self.n(cy))")
                svg += "<circle class=\"precision\" cx=\"\(Self.n(cx))\" cy=\"\(Self.n(cy))\" r=\"3.5\" fill=\"#1a5fb4\"><title>\(e(Timestamps.format(b.start))): precision \(Self.percent(p)) of \(b.confirmed + b.falsePositive) judged</title></circle>"
            }
        }
        if points.count > 1 { svg += "<polyline points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"#1a5fb4\" stroke-width=\"2\"/>" }
        if let first = series.first, let last = series.last {
            svg += "<text x=\"\(left)\" y=\"\(h - 8)\" font-size=\"11\" fill=\"#445\">\(e(String(Timestamps.format(first.start).prefix(10))))</text>"
            svg += "<text x=\"\(left + plotW)\" y=\"\(h - 8)\" text-anchor=\"end\" font-size=\"11\" fill=\"#445\">\(e(String(Timestamps.format(last.start).prefix(10))))</text>"
        }
        svg += "</svg>"
        return "<section><h2>Volume and precision over time</h2>\(svg)</section>"
    }

    func suggestionsSection() -> String {
        var out = "<section><h2>Suggested thresholds</h2><p class=\"muted\">The highest min_confidence per defect class that still opens every incident confirmed in the last 30 days, found by replaying those detections through the incident rules.</p>"
        if let note = suggestionsNote { return out + "<p class=\"err\">\(e(note))</p></section>" }
        guard !suggestions.isEmpty else { return out + "<p class=\"muted\">No confirmed incident in the last 30 days: nothing to tune against yet.</p></section>" }
        out += "<table class=\"suggestions\"><thead><tr><th>Defect class</th><th>Now</th><th>Suggested</th><th>Confirmed kept</th><th>Work orders</th><th>False positives avoided</th><th>Copy YAML</th></tr></thead><tbody>"
        for (n, s) in suggestions.enumerated() {
            let r = s.result
            out += "<tr data-suggestion=\"\(e(s.defectClass))\"><td>\(e(s.defectClass))</td><td>\(e(ThresholdSuggestion.format(s.current)))</td><td><b>\(e(ThresholdSuggestion.format(s.suggested)))</b></td>"
            out += "<td>\(s.confirmed)</td><td>\(r.workOrdersNow) → \(r.workOrdersProposed)</td><td>\(r.falsePositivesAvoided)</td>"
            out += "<td><pre class=\"yaml\" id=\"yaml-\(n)\" tabindex=\"0\" aria-label=\"YAML for \(e(s.defectClass))\">\(e(s.yaml))</pre>"
            out += "<button type=\"button\" data-copy=\"yaml-\(n)\">Copy YAML</button></td></tr>"
        }
        return out + "</tbody></table></section>"
    }

    static func percent(_ v: Double) -> String { "\(Checked.int(v * 100, clampedTo: 0...100)) %" }

    static func n(_ v: Double) -> String { String(format: "%.1f", v.isFinite ? v : 0) }

    static func duration(_ seconds: Double?) -> String {
        guard let s = seconds, s.isFinite else { return "<span class=\"muted\">–</span>" }
        return durationText(s)
    }

    /// `45 s`, `12 min`, `5 h`, `3 d`: plain text, no markup.
    static func durationText(_ s: Double) -> String {
        if s < 120 { return "\(Checked.int(s, clampedTo: 0...120)) s" }
        if s < 7200 { return "\(Checked.int(s / 60, clampedTo: 0...120)) min" }
        if s < 172_800 { return "\(Checked.int(s / 3600, clampedTo: 0...48)) h" }
        return "\(Checked.int(s / 86_400, clampedTo: 0...100_000)) d"
    }
}

private func e(_ s: String) -> String { HTML.escape(s) }
