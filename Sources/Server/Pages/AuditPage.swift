import Foundation
import Gateway
import MillwrightCore
import Store

/// The auditor's view (`/audit`, admin): the trail filtered by subject, kind and time, each
/// record with its hash, signatures with their printed manifestation, a page at a time, and a
/// layout that prints. The HTML the script fetches (`GET /ui/audit?…`).
struct AuditPage {
    var query: AuditQuery
    var records: [AuditEntryView]
    var nextCursor: String?

    static func load(_ gateway: Gateway, query: AuditQuery) async throws -> AuditPage {
        var query = query
        let limit = query.limit
        query.limit += 1
        let page = APIServer.auditPage(try await gateway.store.auditRecords(query), limit: limit)
        return AuditPage(query: query, records: page.items, nextCursor: page.next.map { ListCursor.encode($0, list: .audit) })
    }

    func render() -> String {
        func field(_ name: String, _ label: String, _ value: String?, placeholder: String) -> String {
            "<label>\(label) <input data-audit-filter=\"\(name)\" value=\"\(e(value ?? ""))\" placeholder=\"\(e(placeholder))\"></label>"
        }
        var out = "<section class=\"noprint\"><h2>Filter</h2><form id=\"auditfilter\" class=\"filters\">"
        out += field("subject", "Subject", query.subject, placeholder: "incident id, work order id, user:NAME")
        out += field("kind", "Kind", query.kind, placeholder: "signature, feedback, security.user_locked")
        out += field("since", "Since", query.since.map(Timestamps.format), placeholder: "2026-11-01T00:00:00Z")
        out += field("until", "Until", query.until.map(Timestamps.format), placeholder: "2026-12-01T00:00:00Z")
        out += "<button type=\"submit\">Show</button> <button type=\"button\" data-print=\"1\">Print</button></form></section>"
        out += "<section><h2>Records</h2>"
        guard !records.isEmpty else { return out + "<p class=\"muted\">No record matches.</p></section>" }
        out += "<table class=\"audit\"><thead><tr><th>#</th><th>Time (UTC)</th><th>Kind</th><th>Subject</th><th>What</th><th>Hash</th></tr></thead><tbody>"
        for r in records {
            var what = ""
            if r.kind == SignatureManifest.auditKind, let m = SignatureManifest(auditData: r.data, at: r.at) {
                what = "<b>Signed (\(e(m.action))):</b> \(e(m.printed))"
            } else {
                var json = ""
                CanonicalJSON.write(.object(r.data), into: &json)
                what = "<code>\(e(String(json.prefix(2000))))</code>"
            }
            out += "<tr\(r.kind == SignatureManifest.auditKind ? " class=\"signed\"" : "")><td>\(r.seq)</td><td>\(e(Timestamps.format(r.at)))</td><td>\(e(r.kind))</td>"
            out += "<td>\(e(r.subject))</td><td>\(what)</td><td title=\"\(e(r.hash))\"><code>\(e(String(r.hash.prefix(12))))…</code></td></tr>"
        }
        out += "</tbody></table>"
        if let nextCursor {
            out += "<p class=\"noprint\"><button type=\"button\" data-audit-cursor=\"\(e(nextCursor))\">Next page</button></p>"
        }
        return out + "</section>"
    }

    private func e(_ s: String) -> String { HTML.escape(s) }
}
