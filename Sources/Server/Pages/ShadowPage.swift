import Foundation
import Gateway
import MillwrightCore

/// The shadow run for people (`/shadow`): what shadow mode would have created against what the
/// plant's inspectors found, as the go/no-go evidence for switching shadow off, with the form
/// that imports the manual log. A shell like the board; this is its fragment (`GET /ui/shadow`).
struct ShadowPage {
    var report: ShadowReport
    var role: APIRole
    /// The gateway runs in shadow mode now.
    var shadowOn: Bool
    /// The site's, for the days of date-only findings.
    var timeZone: TimeZone
    /// Rows listed per table; the summary counts them all.
    static let rowsListed = 500

    func render() -> String {
        modeLinks() + summarySection() + importSection() + caughtSection() + laterSection() + missedSection() + extrasSection()
    }

    func modeLinks() -> String {
        var out = "<nav class=\"filters\" aria-label=\"Incidents compared\">Compare: "
        for (mode, label) in [("shadow", "shadow run"), ("live", "live (after go-live)")] {
            out += mode == report.mode ? "<b aria-current=\"page\">\(e(label))</b> " : "<a href=\"/shadow?mode=\(mode)\">\(e(label))</a> "
        }
        out += "<span class=\"muted\">\(e(Timestamps.format(report.since))) to \(e(Timestamps.format(report.until))); "
        out += "a finding matches an incident on the same asset and defect first seen up to \(e(AnalyticsPage.durationText(report.maxLeadSeconds))) before it "
        out += "or \(e(AnalyticsPage.durationText(report.maxLagSeconds))) after</span></nav>"
        return out
    }

    func summarySection() -> String {
        let s = report.summary
        var out = "<section><h2>Go / no-go</h2>"
        out += "<p>The gateway is \(shadowOn ? "<b>in shadow mode</b>: it decides everything and creates no work order" : "<b>live</b>: work orders go to the CMMS").</p>"
        if report.truncated { out += "<p class=\"err\">More than \(APIServer.shadowReadLimit) findings or incidents in this period: only the oldest are compared.</p>" }
        guard s.findings > 0 else {
            return out + "<p class=\"muted\">No manual findings in this period. Import the inspection log below to compare.</p>"
                + "<p>\(s.extras) incident\(s.extras == 1 ? "" : "s") opened in the \(e(report.mode)) run.</p></section>"
        }
        out += "<dl class=\"summary\">"
        out += "<dt>Defects people logged</dt><dd data-summary=\"findings\">\(s.findings)</dd>"
        out += "<dt>Also found by Millwright</dt><dd data-summary=\"matched\">\(s.matched)" + (s.recall.map { " (\(AnalyticsPage.percent($0)))" } ?? "") + "</dd>"
        out += "<dt>Found by Millwright first</dt><dd data-summary=\"caught_first\">\(s.caughtFirst)"
            + (s.medianLeadSeconds.map { $0 > 0 ? ", median lead \(e(AnalyticsPage.durationText($0)))" : "" } ?? "") + "</dd>"
        out += "<dt>Missed</dt><dd data-summary=\"missed\">\(s.missed)</dd>"
        out += "<dt>Incidents nobody logged</dt><dd data-summary=\"extras\">\(s.extras) (\(s.extrasConfirmed) confirmed, \(s.extrasFalsePositive) false positive)</dd>"
        return out + "</dl></section>"
    }

    /// Operators and admins import the log; the server checks the role again.
    func importSection() -> String {
        guard role == .operator || role == .admin else { return "" }
        return """
            <section><h2>Import the manual inspection log</h2>
            <p class="muted">CSV with a header naming <code>date,asset,defect,found_by</code> (and optionally <code>notes</code>); a date, or a time read in the site's time zone unless it carries one. A file is imported whole or not at all; importing it again adds nothing.</p>
            <form id="manual-log" class="filters"><label>CSV file <input type="file" name="file" accept=".csv,text/csv"></label>
            <button type="submit">Import</button></form><p id="manual-log-result" role="status"></p></section>
            """
    }

    func caughtSection() -> String {
        table(title: "Found by Millwright first", rows: report.caughtFirst, empty: "None in this period.") { m in
            "<td>\(e(Timestamps.format(m.firstSeen)))</td><td><b>\(e(AnalyticsPage.durationText(m.leadSeconds))) earlier</b></td>"
        }
    }

    func laterSection() -> String {
        table(title: "Found by people first, or the same day", rows: report.foundByPeopleFirst, empty: "None in this period.") { m in
            "<td>\(e(Timestamps.format(m.firstSeen)))</td><td>" + (m.leadSeconds == 0 ? "same day" : "\(e(AnalyticsPage.durationText(-m.leadSeconds))) later") + "</td>"
        }
    }

    func table(title: String, rows: [ShadowReport.Match], empty: String, seen: (ShadowReport.Match) -> String) -> String {
        var out = "<section><h2>\(e(title)) (\(rows.count))</h2>"
        guard !rows.isEmpty else { return out + "<p class=\"muted\">\(e(empty))</p></section>" }
        out += "<table class=\"shadow\"><thead><tr><th>Found</th><th>Asset</th><th>Defect</th><th>Found by</th><th>Millwright first saw</th><th>Difference</th><th>Incident</th></tr></thead><tbody>"
        for m in rows.prefix(Self.rowsListed) {
            out += "<tr data-incident=\"\(e(m.incidentId))\"><td>\(finding(m.finding))</td><td>\(e(m.finding.asset))</td><td>\(e(m.finding.defectClass))</td><td>\(e(m.finding.foundBy))</td>"
            out += seen(m) + "<td><a href=\"/incidents/\(e(m.incidentId))\">\(e(m.camera))</a></td></tr>"
        }
        return out + "</tbody></table>" + more(rows.count) + "</section>"
    }

    func missedSection() -> String {
        var out = "<section><h2>Missed (\(report.missed.count))</h2>"
        guard !report.missed.isEmpty else { return out + "<p class=\"muted\">Every logged defect in this period has an incident.</p></section>" }
        out += "<table class=\"shadow\"><thead><tr><th>Found</th><th>Asset</th><th>Defect</th><th>Found by</th><th>Why</th></tr></thead><tbody>"
        for m in report.missed.prefix(Self.rowsListed) {
            out += "<tr data-missed=\"\(e(m.reason))\"><td>\(finding(m.finding))</td><td>\(e(m.finding.asset))</td><td>\(e(m.finding.defectClass))</td><td>\(e(m.finding.foundBy))</td><td>\(e(Self.why(m)))</td></tr>"
        }
        return out + "</tbody></table>" + more(report.missed.count) + "</section>"
    }

    func extrasSection() -> String {
        var out = "<section><h2>Incidents nobody logged (\(report.extras.count))</h2><p class=\"muted\">A confirmed one is a defect the rounds missed; a false positive one is a work order shadow mode spared the plant.</p>"
        guard !report.extras.isEmpty else { return out + "</section>" }
        out += "<table class=\"shadow\"><thead><tr><th>First seen</th><th>Asset</th><th>Defect</th><th>Camera</th><th>Verdict</th></tr></thead><tbody>"
        for x in report.extras.prefix(Self.rowsListed) {
            out += "<tr data-extra=\"\(e(x.incidentId))\"><td>\(e(Timestamps.format(x.firstSeen)))</td><td>\(e(x.asset))</td><td>\(e(x.defectClass))</td>"
            out += "<td><a href=\"/incidents/\(e(x.incidentId))\">\(e(x.camera))</a></td><td>\(e(x.verdict.map { $0 == .confirmed ? "confirmed" : "false positive" } ?? "not judged"))</td></tr>"
        }
        return out + "</tbody></table>" + more(report.extras.count) + "</section>"
    }

    static func why(_ m: ShadowReport.Miss) -> String {
        switch m.reason {
        case "not_watched": return "no camera is mapped to this asset"
        case "not_detected": return "no \(m.finding.defectClass) detection on this asset in the window"
        default:
            let counts = m.detections.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key.replacingOccurrences(of: "_", with: " "))" }
            return "detected, but no incident: " + counts.joined(separator: ", ")
        }
    }

    func finding(_ f: ManualFinding) -> String {
        let when = f.dateOnly ? LocalDate.of(f.foundAt, in: timeZone).description : Timestamps.format(f.foundAt)
        return "\(e(when)) <span class=\"muted\">(line \(f.line))</span>"
    }

    func more(_ count: Int) -> String {
        count > Self.rowsListed ? "<p class=\"muted\">The first \(Self.rowsListed) of \(count); GET /v1/shadow/report has them all.</p>" : ""
    }
}

private func e(_ s: String) -> String { HTML.escape(s) }
