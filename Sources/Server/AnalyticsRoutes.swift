import Foundation
import Hummingbird
import MillwrightCore
import NIOCore
import Store

/// Quality analytics and threshold tuning: `GET /v1/analytics/quality` (viewer) and
/// `POST /v1/analytics/simulate` (operator). The store reads bounded facts; Core computes.
extension APIServer {
    /// Detections read for one answer, newest first. A replay holds them all in memory
    /// (about 200 bytes each), so this bounds a request to tens of megabytes.
    static let analyticsDetectionLimit = 200_000
    /// How far back `since` may reach, so the chart's buckets and the read stay bounded.
    static let analyticsMaxLookback: TimeInterval = 366 * 86_400
    static let analyticsDefaultLookback: TimeInterval = 30 * 86_400
    static let maxProposals = 200

    var analyticsRoutes: [Route] {
        [
            Route(method: .get, path: "/v1/analytics/quality", handler: quality),
            Route(method: .post, path: "/v1/analytics/simulate", handler: simulate),
        ]
    }

    /// `since` from the query: ISO 8601; 30 days ago by default. Earlier than
    /// `analyticsMaxLookback` ago reads as that, later than now as now.
    static func analyticsSince(_ text: String?, now: Date) throws -> Date {
        guard let text else { return now.addingTimeInterval(-analyticsDefaultLookback) }
        guard let d = Timestamps.parseISO(text) else {
            throw Problem(.badRequest, type: "invalid-query", detail: "since '\(text.prefix(64))' is not an ISO 8601 time")
        }
        return min(max(d, now.addingTimeInterval(-analyticsMaxLookback)), now)
    }

    func quality(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        let q = request.uri.queryParameters
        let now = Date()
        let by = try q.get("by").map { b in
            guard let d = QualityDimension(rawValue: b) else {
                throw Problem(.badRequest, type: "invalid-query", detail: "by '\(b.prefix(64))' is not one of \(QualityDimension.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return d
        } ?? .camera
        let since = try Self.analyticsSince(q.get("since"), now: now)
        return json(try await Self.qualityReport(gateway.store, by: by, since: since, now: now))
    }

    static func qualityReport(_ store: any GatewayStore, by: QualityDimension, since: Date, now: Date) async throws -> QualityReport {
        let facts = try await store.analyticsFacts(since: since, limit: analyticsDetectionLimit, models: by == .model)
        return QualityReport.compute(detections: facts.detections, incidents: facts.incidents.filter { $0.openedAt >= since },
                                     by: by, since: since, until: now, truncated: facts.truncated)
    }

    func simulate(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.feedback)
        let example = "{\"since\": \"2026-01-01T00:00:00Z\", \"proposals\": [{\"defect_class\": \"crack\", \"camera\": \"CAM-07\", \"min_confidence\": 0.8, \"confirm\": {\"detections\": 2, \"within\": \"10s\"}}]}"
        guard let input = try await optionalJSONObject(request, example: example)?.objectValue else {
            throw Problem(.unprocessableContent, type: "invalid-simulation", detail: "body must be a JSON object \(example)")
        }
        let now = Date()
        let (since, proposals) = try Self.simulationInput(input, now: now)
        let facts = try await gateway.store.analyticsFacts(since: since, limit: Self.analyticsDetectionLimit, models: false)
        guard !facts.truncated else {
            throw Problem(.unprocessableContent, type: "too-many-detections",
                          detail: "more than \(Self.analyticsDetectionLimit) detections were stored since \(Timestamps.format(since)); a replay needs them all. Pass a later since.")
        }
        let settings = gateway.settings
        let result = SimulationResult.compare(facts.detections, incidents: facts.replayIncidents, settings: settings, proposals: proposals)
        return json(SimulationAnswer(since: since, until: now, result: result))
    }

    struct SimulationAnswer: Encodable {
        var since: Date
        var until: Date
        var result: SimulationResult
    }

    /// The body of a simulation, each problem naming its field.
    static func simulationInput(_ input: [String: JSONValue], now: Date) throws -> (Date, [ThresholdProposal]) {
        var errors: [ProblemItem] = []
        func bad(_ field: String, _ problem: String) { errors.append(ProblemItem(index: nil, field: field, problem: problem)) }
        for k in input.keys where !["since", "proposals"].contains(k) { bad(String(k.prefix(64)), "is not a field of a simulation (since, proposals)") }
        var since = now.addingTimeInterval(-analyticsDefaultLookback)
        switch input["since"] {
        case nil: break
        case .string(let s)?:
            do { since = try analyticsSince(s, now: now) } catch let p as Problem { bad("since", p.detail) }
        default: bad("since", "must be an ISO 8601 time")
        }
        var proposals: [ThresholdProposal] = []
        guard let list = input["proposals"]?.arrayValue, !list.isEmpty, list.count <= maxProposals else {
            bad("proposals", "must be an array of 1 to \(maxProposals) proposals")
            throw invalid(errors)
        }
        for (i, item) in list.enumerated() {
            let at = "proposals[\(i)]"
            guard let o = item.objectValue else { bad(at, "must be an object"); continue }
            for k in o.keys where !["defect_class", "camera", "min_confidence", "confirm"].contains(k) {
                bad("\(at).\(k.prefix(64))", "is not a field of a proposal (defect_class, camera, min_confidence, confirm)")
            }
            guard let defect = o["defect_class"]?.stringValue else { bad("\(at).defect_class", "is required: a string"); continue }
            var p = ThresholdProposal(defectClass: defect)
            switch o["camera"] {
            case nil: break
            case .string(let c)?: p.camera = c
            default: bad("\(at).camera", "must be a string")
            }
            switch o["min_confidence"] {
            case nil: break
            case .number(let m)?: p.minConfidence = m
            default: bad("\(at).min_confidence", "must be a number from 0 to 1")
            }
            switch o["confirm"] {
            case nil: break
            case .object(let c)?:
                for k in c.keys where !["detections", "within"].contains(k) { bad("\(at).confirm.\(k.prefix(64))", "is not a field of confirm (detections, within)") }
                switch c["detections"] {
                case nil: break
                case .number(let n)?:
                    // Whole numbers only, checked before converting: never a bare Int(Double).
                    if n.rounded() == n, (1...Double(ThresholdProposal.maxConfirmDetections)).contains(n) {
                        p.confirmDetections = Checked.int(n, clampedTo: 1...ThresholdProposal.maxConfirmDetections)
                    } else { bad("\(at).confirm.detections", "must be an integer from 1 to \(ThresholdProposal.maxConfirmDetections)") }
                default: bad("\(at).confirm.detections", "must be an integer from 1 to \(ThresholdProposal.maxConfirmDetections)")
                }
                switch c["within"] {
                case nil: break
                case .string(let w)?:
                    if let d = Self.simulationWithin(w) { p.confirmWithin = d } else { bad("\(at).confirm.within", Self.withinProblem) }
                default: bad("\(at).confirm.within", Self.withinProblem)
                }
            default: bad("\(at).confirm", "must be an object {\"detections\": 2, \"within\": \"10s\"}")
            }
            for (field, problem) in p.problems(index: i) { bad(field, problem) }
            proposals.append(p)
        }
        guard errors.isEmpty else { throw invalid(errors) }
        return (since, proposals)
    }

    static let withinProblem = "must be 1 to 999 followed by ms, s or m, such as 10s"

    /// `confirm.within` in the one shape the OpenAPI document states (`^[1-9][0-9]{0,2}(ms|s|m)$`,
    /// at most 999 minutes), so that the document and the server accept the same strings.
    static func simulationWithin(_ text: String) -> Duration? {
        guard let unit = ["ms", "s", "m"].first(where: { text.hasSuffix($0) }) else { return nil }
        let digits = text.dropLast(unit.count)
        guard (1...3).contains(digits.count), digits.first != "0", digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Duration.parse(text)
    }

    private static func invalid(_ errors: [ProblemItem]) -> Problem {
        let first = errors[0]
        return Problem(.unprocessableContent, type: "invalid-simulation",
                       detail: (first.field.map { "\($0) " } ?? "") + first.problem + (errors.count > 1 ? " (and \(errors.count - 1) more)" : ""),
                       errors: Array(errors.prefix(50)))
    }
}
