import Foundation
import Hummingbird
import MillwrightCore
import NIOCore

/// The pages for people: shells anyone may load (they hold no data), the script and style
/// sheet, and the HTML for a key (viewer and up) that the script puts into the shells.
/// Not part of the API contract (`openapi.yaml`).
extension APIServer {
    /// "method path" of every page route, which the OpenAPI document leaves out.
    public static let pageRoutes: Set<String> = ["get /", "get /incidents/{id}", "get /ui/board.js", "get /ui/board.css", "get /ui/board", "get /ui/incidents/{id}",
                                                 "get /audit", "get /ui/audit", "get /analytics", "get /ui/analytics", "get /shadow", "get /ui/shadow"]

    var pages: [Route] {
        let part11 = gateway.settings.compliance.part11
        return [
            Route(method: .get, path: "/") { _, _ in
                HTML.response(HTML.shell(title: "Planner's board", page: "board", fragment: "/ui/board", intro: "Loading…", part11: part11))
            },
            Route(method: .get, path: "/incidents/{id}") { _, ctx in
                let id = try ctx.parameters.require("id")
                let fragment = "/ui/incidents/" + (id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? "")
                return HTML.response(HTML.shell(title: "Incident \(id.prefix(128))", page: "incident", fragment: fragment, intro: "Loading…", part11: part11))
            },
            Route(method: .get, path: "/analytics") { request, _ in
                // The shell passes its query on to the fragment, escaped, as the only state it holds.
                let q = request.uri.queryParameters
                var query: [String] = []
                for name in ["by", "since"] {
                    if let v = q.get(name), let enc = v.prefix(64).addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) { query.append("\(name)=\(enc)") }
                }
                let fragment = "/ui/analytics" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
                return HTML.response(HTML.shell(title: "Quality analytics", page: "analytics", fragment: fragment, intro: "Loading…", part11: part11))
            },
            Route(method: .get, path: "/ui/analytics") { request, ctx in
                try ctx.require(.read)
                let q = request.uri.queryParameters
                let now = Date()
                let by = q.get("by").flatMap(QualityDimension.init(rawValue:)) ?? .camera
                let since = try Self.analyticsSince(q.get("since"), now: now)
                return HTML.response(try await AnalyticsPage.load(gateway, by: by, since: since, role: ctx.caller!.role, now: now).render())
            },
            Route(method: .get, path: "/shadow") { request, _ in
                let q = request.uri.queryParameters
                var query: [String] = []
                for name in ["since", "until", "mode", "max_lead", "max_lag"] {
                    if let v = q.get(name), let enc = v.prefix(64).addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) { query.append("\(name)=\(enc)") }
                }
                let fragment = "/ui/shadow" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
                return HTML.response(HTML.shell(title: "Shadow run", page: "shadow", fragment: fragment, intro: "Loading…", part11: part11))
            },
            Route(method: .get, path: "/ui/shadow") { request, ctx in
                try ctx.require(.read)
                let report = try await Self.shadowReport(gateway, query: request.uri.queryParameters, now: Date())
                return HTML.response(ShadowPage(report: report, role: ctx.caller!.role, shadowOn: gateway.settings.shadow,
                                                timeZone: TimeZone(identifier: gateway.settings.site.timezone) ?? .gmt).render())
            },
            Route(method: .get, path: "/ui/board.js") { _, _ in asset(BoardAssets.script, type: "text/javascript; charset=utf-8") },
            Route(method: .get, path: "/ui/board.css") { _, _ in asset(BoardAssets.css, type: "text/css; charset=utf-8") },
            Route(method: .get, path: "/ui/board") { _, ctx in
                try ctx.require(.read)
                return HTML.response(try await BoardPage.load(gateway, role: ctx.caller!.role).render())
            },
            Route(method: .get, path: "/audit") { _, _ in
                HTML.response(HTML.shell(title: "Audit trail", page: "audit", fragment: "/ui/audit", intro: "Log in as an admin to read the audit trail.", part11: part11))
            },
            Route(method: .get, path: "/ui/audit") { request, ctx in
                try ctx.require(.admin)
                return HTML.response(try await AuditPage.load(gateway, query: try auditQuery(request)).render())
            },
            Route(method: .get, path: "/ui/incidents/{id}") { _, ctx in
                try ctx.require(.read)
                guard let page = try await IncidentPage.load(gateway, id: try ctx.parameters.require("id"), role: ctx.caller!.role) else { throw notFound("incident") }
                return HTML.response(page.render())
            },
        ]
    }
}

/// The script or style sheet; revalidated each time (it changes with the binary), cheap to send.
private func asset(_ text: String, type: String) -> Response {
    Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache", .xContentTypeOptions: "nosniff"],
             body: .init(byteBuffer: ByteBuffer(string: text)))
}
