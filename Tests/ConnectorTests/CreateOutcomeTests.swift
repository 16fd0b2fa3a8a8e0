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
}
