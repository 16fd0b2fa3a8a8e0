import Crypto
import Foundation
import Gateway
import Hummingbird
import MillwrightCore
import NIOCore
import Store

/// The shadow run's evidence: `POST /v1/shadow/manual-log` (operator) imports the plant's
/// manual inspection log as CSV; `GET /v1/shadow/report` (viewer) lines up what shadow mode
/// would have created against what people found. Parsing and matching are in Core
/// (`ManualLogCSV`, `ShadowReport`).
extension APIServer {
    /// Findings and incidents read for one report.
    static let shadowReadLimit = 100_000
    static let shadowDefaultMaxLead: TimeInterval = 14 * 86_400
    static let shadowDefaultMaxLag: TimeInterval = 2 * 86_400
    /// A lead or lag past this is not the same defect.
    static let shadowMaxWindow: TimeInterval = 90 * 86_400

    var shadowRoutes: [Route] {
        [
            Route(method: .post, path: "/v1/shadow/manual-log", handler: importManualLog),
            Route(method: .get, path: "/v1/shadow/report", handler: shadowReport),
        ]
    }

    func importManualLog(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.feedback)
        let body = try await limitedBody(request, fix: "Split the log into several files.")
        let data = Data(buffer: body)
        let zone = TimeZone(identifier: gateway.settings.site.timezone) ?? .gmt
        switch ManualLogCSV.parse(data, timeZone: zone) {
        case .failure(.invalid(let problems, let total)):
            let listed = problems.map { ProblemItem(index: $0.line, field: $0.column, problem: "line \($0.line): \($0.detail)") }
            let more = total > problems.count ? " (the first \(problems.count) are listed)" : ""
            throw Problem(.unprocessableContent, type: "invalid-manual-log",
                          detail: "the manual log has \(total) problem\(total == 1 ? "" : "s")\(more); nothing was imported. First: \(listed.first?.problem ?? "")",
                          errors: listed)
        case .success(let parsed):
            let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            let by = ctx.sessionUser ?? ctx.caller?.name ?? "unknown"
            let result = try await gateway.store.importManualLog(parsed.findings, fileSHA256: digest, by: by, now: Date())
            return json(ManualLogAnswer(rows: result.rows, imported: result.imported, duplicates: result.duplicates,
                                        ignoredColumns: parsed.ignoredColumns, fileSHA256: digest))
        }
    }

    struct ManualLogAnswer: Encodable {
        var rows: Int
        var imported: Int
        var duplicates: Int
        var ignoredColumns: [String]
        var fileSHA256: String
        enum CodingKeys: String, CodingKey {
            case rows, imported, duplicates, ignoredColumns = "ignored_columns", fileSHA256 = "file_sha256"
        }
    }

    func shadowReport(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        return json(try await Self.shadowReport(gateway, query: request.uri.queryParameters, now: Date()))
    }

    /// The report for a query: `since` (30 days before `until`) and `until` (now), ISO 8601; `max_lead`
    /// (14d) and `max_lag` (2d) as durations; `mode` `shadow` or `live`.
    static func shadowReport(_ gateway: Gateway, query q: Parameters, now: Date) async throws -> ShadowReport {
        var until = now
        if let text = q.get("until") {
            guard let d = Timestamps.parseISO(text) else {
                throw Problem(.badRequest, type: "invalid-query", detail: "until '\(text.prefix(64))' is not an ISO 8601 time")
            }
            until = min(d, now)
        }
        // 30 days before until, and at most a year before it, so one read stays bounded.
        var since = until.addingTimeInterval(-analyticsDefaultLookback)
        if let text = q.get("since") {
            guard let d = Timestamps.parseISO(text) else {
                throw Problem(.badRequest, type: "invalid-query", detail: "since '\(text.prefix(64))' is not an ISO 8601 time")
            }
            since = max(d, until.addingTimeInterval(-analyticsMaxLookback))
        }
        guard since <= until else {
            throw Problem(.badRequest, type: "invalid-query", detail: "since \(Timestamps.format(since)) is after until \(Timestamps.format(until))")
        }
        func window(_ name: String, _ fallback: TimeInterval) throws -> TimeInterval {
            guard let text = q.get(name) else { return fallback }
            guard let d = Duration.parse(text), d.seconds <= shadowMaxWindow else {
                throw Problem(.badRequest, type: "invalid-query", detail: "\(name) '\(text.prefix(32))' is not a duration of at most 90d, such as 14d or 36h")
            }
            return d.seconds
        }
        let maxLead = try window("max_lead", shadowDefaultMaxLead), maxLag = try window("max_lag", shadowDefaultMaxLag)
        let mode = try q.get("mode").map { m in
            guard let v = ShadowMode(rawValue: m) else {
                throw Problem(.badRequest, type: "invalid-query", detail: "mode '\(m.prefix(32))' is not one of shadow, live")
            }
            return v
        } ?? .shadow
        let facts = try await gateway.store.shadowFacts(since: since, until: until, maxLead: maxLead, maxLag: maxLag, mode: mode, limit: shadowReadLimit)
        var watched = Set<String>()
        for c in gateway.settings.assets.cameras {
            watched.insert(c.asset)
            watched.formUnion(c.zones.values)
        }
        return ShadowReport.compute(findings: facts.findings, incidents: facts.incidents, watched: watched, tallies: facts.tallies,
                                    since: since, until: until, mode: mode.rawValue, maxLead: maxLead, maxLag: maxLag, truncated: facts.truncated)
    }
}
