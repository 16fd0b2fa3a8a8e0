import AsyncHTTPClient
import Connectors
import Foundation
import MillwrightCore
import MillwrightTesting
import Testing

/// After a create whose answer was lost the gateway believes the lookup: "not found" must be
/// proven (server-side filter, or the documented paging read back to the claim), and anything
/// less answers "lookup could not prove absence: …" so nothing is created blind. Each test serves
/// the vendor's documented behaviour from a scripted server, and would fail on the old connector.
@Suite struct LookupProofTests {
    static let iso = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Either kind of "not proven": a failed request (retried) or an answer that cannot prove
    /// absence (parked for review). Never `.lookupNotFound`.
    func isUnproven(_ o: DeliveryState.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        switch o {
        case .retryable(let e, _) where e.hasPrefix(LookupProof.prefix): return
        case .lookupInconclusive(let e) where e.hasPrefix(LookupProof.prefix): return
        default: Issue.record("expected 'lookup could not prove absence', got \(o)", sourceLocation: sourceLocation)
        }
    }

    /// An answer that cannot prove absence, whatever is asked again: parked for review.
    func parksForReview(_ o: DeliveryState.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .lookupInconclusive(let e) = o, e.hasPrefix(LookupProof.prefix) else {
            Issue.record("expected the work order to be parked for review, got \(o)", sourceLocation: sourceLocation); return
        }
    }

    @Test func referenceTokenIsMatchedWhole() {
        #expect(LookupProof.descriptionNames("x · Millwright reference MW-AB · site 1", reference: "MW-AB"))
        #expect(!LookupProof.descriptionNames("x · Millwright reference MW-ABC · site 1", reference: "MW-AB"))
        #expect(LookupProof.descriptionNames("Millwright reference MW-AB", reference: "MW-AB"))
    }

    // MARK: UpKeep — GET /api/v2/work-orders `limit` (≤100) and `offset`, newest createdAt first

    /// `count` work orders, newest first, one minute apart from `newest`; `target` (an index) carries the reference.
    static func upkeepServer(count: Int, target: Int?, reference: String, newest: Date = Date()) async throws -> ScriptedServer {
        try await ScriptedServer.start { r in
            if r.path.hasSuffix("/auth/") { return .json(200, ["result": ["sessionToken": "tok"]]) }
            guard r.method == "GET", r.path.hasSuffix("/work-orders/") || r.path.hasSuffix("/work-orders") else { return .json(404, ["message": "no route"]) }
            let limit = min(100, Int(r.param("limit") ?? "") ?? 100), offset = Int(r.param("offset") ?? "") ?? 0
            let items = (offset..<min(count, offset + limit)).map { i -> [String: Any] in
                ["id": "wo\(i)", "createdAt": Self.iso.format(newest.addingTimeInterval(Double(-60 * i))),
                 "description": i == target ? "Defect\nDetection: d1 · Millwright reference \(reference) · site plant-1" : "Defect\nDetection: d\(i) · Millwright reference MW-OTHER\(i)"]
            }
            return .json(200, ["success": true, "results": items])
        }
    }

    static func upkeep(_ url: String, _ extra: [String: String] = [:]) throws -> any CMMSConnector {
        var s = TestCMMS(name: "upkeep", kind: "upkeep", baseURL: url)
        s.auth = .session(user: "i@plant.example", password: "pw")
        s.options = extra
        return try CMMSRegistry.makeConnector(s, http: .test())
    }

    @Test func upkeepPagesWithOffsetPastTheFirst100_UpKeepV2WorkOrdersLimitOffset() async throws {
        let srv = try await Self.upkeepServer(count: 250, target: 180, reference: "MW-PAGED0000001")
        defer { srv.stop() }
        let c = try Self.upkeep(srv.baseURL)
        #expect(await c.lookup(reference: "MW-PAGED0000001", createdSince: Date().addingTimeInterval(-86400)) == .lookupFound(cmmsId: "wo180"))
        #expect(await srv.requests.contains { $0.param("offset") == "100" })
    }

    @Test func upkeepStopsAtTheClaimMinusSkewAndProvesAbsence_UpKeepV2CreatedAtNewestFirst() async throws {
        // 250 work orders a minute apart: the claim 30 minutes ago (plus 15 min skew) is within the first page.
        let srv = try await Self.upkeepServer(count: 250, target: nil, reference: "MW-ABSENT")
        defer { srv.stop() }
        let c = try Self.upkeep(srv.baseURL)
        #expect(await c.lookup(reference: "MW-ABSENT", createdSince: Date().addingTimeInterval(-30 * 60)) == .lookupNotFound)
        #expect(await srv.requests.filter { $0.path.contains("work-orders") }.count == 1)
    }

    @Test func upkeepDepthExhaustedIsNotAbsence() async throws {
        let srv = try await Self.upkeepServer(count: 1000, target: nil, reference: "MW-ABSENT")
        defer { srv.stop() }
        let c = try Self.upkeep(srv.baseURL, ["lookup_depth": "300"])
        parksForReview(await c.lookup(reference: "MW-ABSENT", createdSince: Date().addingTimeInterval(-30 * 86400)))
    }

    @Test func upkeepServerIgnoringOffsetIsNotAbsence() async throws {
        let srv = try await ScriptedServer.start { r in
            if r.path.hasSuffix("/auth/") { return .json(200, ["result": ["sessionToken": "tok"]]) }
            let items = (0..<100).map { i in ["id": "wo\(i)", "createdAt": Self.iso.format(Date()), "description": "other"] as [String: Any] }
            return .json(200, ["results": items])
        }
        defer { srv.stop() }
        parksForReview(try await Self.upkeep(srv.baseURL).lookup(reference: "MW-X", createdSince: Date().addingTimeInterval(-86400)))
    }

    @Test func upkeepLookupErrorIsNotAbsence() async throws {
        let srv = try await ScriptedServer.start { r in
            r.path.hasSuffix("/auth/") ? .json(200, ["result": ["sessionToken": "tok"]]) : .json(502, ["message": "bad gateway"])
        }
        defer { srv.stop() }
        let o = try await Self.upkeep(srv.baseURL).lookup(reference: "MW-X")
        isUnproven(o)
        guard case .retryable = o else { Issue.record("a failed request is asked again, not parked: \(o)"); return }
    }

    // MARK: Fiix — RPC errors in a 200 answer; FindRequest maxObjects

    static func fiix(_ url: String) throws -> any CMMSConnector {
        var s = TestCMMS(name: "fiix", kind: "fiix", baseURL: url)
        s.auth = .hmac(appKey: "app", accessKey: "acc", secret: "s3cret")
        s.options = ["site_id": "7"]
        return try CMMSRegistry.makeConnector(s, http: .test())
    }

    static func fiixBody(_ r: ScriptedServer.Request) -> (op: String, cls: String) {
        (r.json?["_maCn"] as? String ?? "", r.json?["className"] as? String ?? "")
    }

    @Test func fiixServerFailureCodeOnAddIsLookedUpNotDeadLettered_FiixErrorObject() async throws {
        let srv = try await ScriptedServer.start { r in
            switch Self.fiixBody(r) {
            case ("FindRequest", "Priority"): return .json(200, ["objects": [["id": 1, "strName": "Highest"], ["id": 2, "strName": "High"], ["id": 3, "strName": "Medium"], ["id": 4, "strName": "Low"]]])
            default: return .json(200, ["error": ["code": 500, "message": "Internal server error"]])
            }
        }
        defer { srv.stop() }
        guard case .unknown = try await Self.fiix(srv.baseURL).create(Fixtures.draft()) else {
            Issue.record("a Fiix server failure may follow a stored work order: it must be looked up, not dead-lettered"); return
        }
    }

    @Test func fiixValidationErrorStaysPermanent() async throws {
        let srv = try await ScriptedServer.start { r in
            switch Self.fiixBody(r) {
            case ("FindRequest", "Priority"): return .json(200, ["objects": [["id": 1, "strName": "Highest"]]])
            default: return .json(200, ["error": ["code": 400, "message": "intSiteID is required"]])
            }
        }
        defer { srv.stop() }
        guard case .permanent = try await Self.fiix(srv.baseURL).create(Fixtures.draft()) else { Issue.record("a refused request is a dead letter"); return }
    }

    @Test func fiixAnswerFillingMaxObjectsIsNotAbsence() async throws {
        let srv = try await ScriptedServer.start { r in
            let max = r.json?["maxObjects"] as? Int ?? 0
            // Every hit names a longer reference (MW-AB1…): LIKE matched, the token did not.
            return .json(200, ["objects": (0..<max).map { ["id": $0, "strDescription": "Millwright reference MW-AB\($0)"] }])
        }
        defer { srv.stop() }
        let c = try Self.fiix(srv.baseURL)
        isUnproven(await c.lookup(reference: "MW-AB"))
        #expect(await srv.requests.first?.json?["maxObjects"] as? Int == 100)
    }

    // MARK: MaintainX without reference_field — GET /workorders cursor paging, list `description`

    @Test func maintainxWithoutReferenceFieldFollowsNextCursor_OpenAPIWorkOrdersNextCursor() async throws {
        let reference = "MW-CURSOR00001"
        let srv = try await ScriptedServer.start { r in
            if r.path == "/v1/workorders" {
                let page = r.param("cursor") == "p2" ? 1 : 0
                let items = (0..<200).map { i -> [String: Any] in
                    let n = page * 200 + i
                    return ["id": n, "title": "t", "status": "OPEN", "createdAt": Self.iso.format(Date()),
                            "description": n == 330 ? "Detection: d · Millwright reference \(reference) · site p" : "Millwright reference MW-OTHER\(n)"]
                }
                return .json(200, ["workOrders": items, "nextCursor": page == 0 ? "p2" as Any : NSNull() as Any])
            }
            if r.path == "/v1/workorders/330" { return .json(200, ["workOrder": ["id": 330, "externalData": ["millwrightReference": reference]]]) }
            return .json(404, ["message": "no"])
        }
        defer { srv.stop() }
        var s = TestCMMS(name: "mx", kind: "maintainx", baseURL: srv.baseURL + "/v1")
        s.auth = CMMSAuth.bearer(token: "k")
        let c = try CMMSRegistry.makeConnector(s, http: .test())
        #expect(await c.lookup(reference: reference, createdSince: Date().addingTimeInterval(-3600)) == .lookupFound(cmmsId: "330"))
        // Only the work order whose description names us is opened.
        #expect(await srv.requests.filter { $0.path.hasPrefix("/v1/workorders/") }.count == 1)
        let since = try #require(await srv.requests.first?.param("createdAt[gte]"))
        let d = try #require(Timestamps.parseISO(since))
        #expect(abs(d.timeIntervalSinceNow + 3600 + LookupProof.clockSkew) < 120, "createdAt[gte] is the claim minus the clock-skew margin")
    }

    // MARK: Limble — GET /v2/tasks `limit` and `page`

    @Test func limblePagesPastTheFirstPage_LimbleAPIV2TasksLimitPage() async throws {
        let srv = try await ScriptedServer.start { r in
            let page = Int(r.param("page") ?? "1") ?? 1, limit = Int(r.param("limit") ?? "100") ?? 100
            let tasks = ((page - 1) * limit..<min(230, page * limit)).map { i -> [String: Any] in
                ["taskID": i, "description": i == 150 ? "Millwright reference MW-LIMBLE1" : "Millwright reference MW-OTHER\(i)"]
            }
            return .json(200, tasks)
        }
        defer { srv.stop() }
        var s = TestCMMS(name: "limble", kind: "limble", baseURL: srv.baseURL)
        s.auth = .client(id: "c", secret: "s")
        s.options = ["location_id": "3"]
        let c = try CMMSRegistry.makeConnector(s, http: .test())
        #expect(await c.lookup(reference: "MW-LIMBLE1") == .lookupFound(cmmsId: "150"))
        #expect(await c.lookup(reference: "MW-NOWHERE") == .lookupNotFound, "the last page, shorter than limit, proves absence")
    }

    // MARK: HxGN EAM — read by key

    @Test func hxgnBare404IsNotAbsence_EAMErrorAlertNotFound() async throws {
        let srv = try await ScriptedServer.start { _ in ScriptedServer.Answer(status: 404, body: "<html>Not Found</html>") }
        defer { srv.stop() }
        var s = TestCMMS(name: "eam", kind: "hxgn-eam", baseURL: srv.baseURL)
        s.auth = .basic(user: "u", password: "p")
        s.options = ["tenant": "T", "organization": "O"]
        isUnproven(try await CMMSRegistry.makeConnector(s, http: .test()).lookup(reference: "MW-X"))
    }

    // MARK: SAP — a lookup for the 20-character reference it sent

    @Test func sapLookupFiltersOnTheReferenceAsCut_EDMXMaintNotifExtReferenceNumberMaxLength20() async throws {
        let srv = try await ScriptedServer.start { _ in .json(200, ["d": ["results": [] as [Any]]]) }
        defer { srv.stop() }
        var s = TestCMMS(name: "sap", kind: "sap-pm", baseURL: srv.baseURL)
        s.auth = .basic(user: "u", password: "p")
        let c = try CMMSRegistry.makeConnector(s, http: .test())
        #expect(await c.lookup(reference: "MW-0123456789ABCDEFGHIJ") == .lookupNotFound)
        let filter = try #require(await srv.requests.first?.param("$filter"))
        #expect(filter == "MaintNotifExtReferenceNumber eq 'MW-0123456789ABCDEFG'")
    }
}
