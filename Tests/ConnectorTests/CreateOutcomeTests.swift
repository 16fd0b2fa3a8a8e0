import AsyncHTTPClient
import Connectors
import Foundation
import MillwrightCore
import MillwrightTesting
import Testing

/// Every connector, one rule: a create answered with any 5xx, or not answered at all, may have
/// been applied, so its outcome is `.unknown` and the work order is looked up before any retry.
@Suite struct CreateOutcomeTests {
    /// Answers the sign-in steps each system needs (UpKeep's session, SAP's CSRF token, Fiix's
    /// priorities) and `status` to every create.
    static func server(createStatus: Int) async throws -> ScriptedServer {
        try await ScriptedServer.start { r in
            if r.headers["x-csrf-token"]?.lowercased() == "fetch" { return ScriptedServer.Answer(status: 200, headers: [("x-csrf-token", "T")], body: "{}") }
            if r.path.hasSuffix("/auth/") { return .json(200, ["result": ["sessionToken": "tok"]]) }
            if r.json?["_maCn"] as? String == "FindRequest" { return .json(200, ["objects": [["id": 1, "strName": "Highest"]]]) }
            return .json(createStatus, ["message": "upstream failed"])
        }
    }

    static let kinds = CMMSRegistry.all.map(\.name)

    @Test(arguments: kinds)
    func every5xxOnACreateIsUnknown(_ kind: String) async throws {
        for status in [500, 502, 503, 504] {
            let srv = try await Self.server(createStatus: status)
            defer { srv.stop() }
            var s = RegistryTests.minimal(kind)
            s.baseURL = srv.baseURL + (kind == "webhook" ? "/hook" : "")
            let c = try CMMSRegistry.makeConnector(s, http: .test())
            guard case .unknown = await c.create(Fixtures.draft(priority: .critical)) else {
                Issue.record("\(kind): HTTP \(status) on a create must be looked up before a retry"); continue
            }
        }
    }

    @Test(arguments: kinds)
    func aLostAnswerOnACreateIsUnknown(_ kind: String) async throws {
        // A port nothing listens on: the request may or may not have left; the outcome is unknown.
        var s = RegistryTests.minimal(kind)
        s.baseURL = "http://127.0.0.1:1"
        let c = try CMMSRegistry.makeConnector(s, http: .test())
        guard case .unknown = await c.create(Fixtures.draft(priority: .critical)) else {
            Issue.record("\(kind): a create without an answer must be looked up before a retry"); return
        }
    }

    static let lookupKinds = CMMSRegistry.all.filter { $0.capabilities.contains(.lookup) }.map(\.name)

    /// A lookup that failed, or whose answer is not the list it asked for, proves nothing: it must
    /// say so ("lookup could not prove absence: …"), never "not found".
    @Test(arguments: lookupKinds)
    func aFailedOrUnreadableLookupIsNotAbsence(_ kind: String) async throws {
        for (status, body) in [(500, "{\"message\": \"down\"}"), (200, "{}"), (200, "<html>maintenance</html>")] {
            let srv = try await ScriptedServer.start { r in
                if r.path.hasSuffix("/auth/") { return .json(200, ["result": ["sessionToken": "tok"]]) }
                return ScriptedServer.Answer(status: status, headers: [("Content-Type", "application/json")], body: body)
            }
            defer { srv.stop() }
            var s = RegistryTests.minimal(kind)
            s.baseURL = srv.baseURL
            let c = try CMMSRegistry.makeConnector(s, http: .test())
            let o = await c.lookup(reference: "MW-ABCDEF123456")
            // HxGN EAM reads by key: a 200 is the work order itself.
            if kind == "hxgn-eam", status == 200 { continue }
            switch o {
            case .retryable(let e, _) where e.hasPrefix(LookupProof.prefix): continue
            case .lookupInconclusive(let e) where e.hasPrefix(LookupProof.prefix) && status == 200: continue
            default: Issue.record("\(kind): HTTP \(status) \(body) answered \(o), not 'lookup could not prove absence'")
            }
        }
    }
}
