import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// HxGN EAM work order comments (MP0109_AddComments_001, entity EVNT) against the emulator.
@Suite(.serialized) struct HxGNCommentTests {
    static func comment(key: String, org: String = "ORG1", entity: String = "EVNT", text: String = "hello") -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header>
        <Tenant xmlns="http://schemas.datastream.net/headers">PLANT1_TST</Tenant><Organization xmlns="http://schemas.datastream.net/headers">\(org)</Organization>
        </soapenv:Header><soapenv:Body><MP0109_AddComments_001 xmlns="http://schemas.datastream.net/MP_functions/MP0109_001" verb="Add" noun="Comments" version="001">
        <COMMENT xmlns="http://schemas.datastream.net/MP_fields"><ENTITYCOMMENTID><ENTITY>\(entity)</ENTITY><ENTITYKEYCODE>\(key)</ENTITYKEYCODE>
        <LANGUAGEID><LANGUAGECODE>EN</LANGUAGECODE></LANGUAGEID><COMMENTTYPE><TYPECODE>*</TYPECODE></COMMENTTYPE></ENTITYCOMMENTID>
        <COMMENTTEXT>\(text)</COMMENTTEXT><ORGANIZATIONID><ORGANIZATIONCODE>\(org)</ORGANIZATIONCODE></ORGANIZATIONID></COMMENT>
        </MP0109_AddComments_001></soapenv:Body></soapenv:Envelope>
        """
    }

    @Test func longTextWithEvidenceArrivesAsCommentAndAddNoteAddsAnother() async throws {
        let emu = try await RunningEmulator.start { HxGNEAMEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(LimbleHxGNTests.hxgn(emu.baseURL), http: HTTPClient.test())
        let draft = Fixtures.draft(description: "Defect: crack <5 mm> & growing\nProcedure: Lock out.\nEvidence: https://mw.example/e/1")
        guard case .created(let id) = await c.create(draft) else { Issue.record("not created"); return }
        var notes = await emu.state.all().first { $0.reference == id }?.notes ?? []
        #expect(notes == [draft.description])
        #expect(notes.first?.contains("https://mw.example/e/1") == true)
        #expect(await c.addNote(cmmsId: id, text: "Millwright: 2 more detection(s) of this defect."))
        notes = await emu.state.all().first { $0.reference == id }?.notes ?? []
        #expect(notes.count == 2)
        #expect(notes.last == "Millwright: 2 more detection(s) of this defect.")
        #expect(await c.addNote(cmmsId: "MW-NOPE", text: "x") == false)
        let checks = await c.checkConnection()
        #expect(checks.allSatisfy { $0.ok })
    }

    @Test func emulatorRejectsUnknownWorkOrderAndBadRequests() async throws {
        let emu = try await RunningEmulator.start { HxGNEAMEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(LimbleHxGNTests.hxgn(emu.baseURL), http: HTTPClient.test())
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        let t = HTTPTransport(client: HTTPClient.test(), timeout: .seconds(5))
        let url = emu.baseURL + "/axis/services/EWSConnector"
        let auth = HTTPTransport.authHeaders(.basic(user: "MWINT", password: "pw")) + [("Content-Type", "text/xml")]
        let unknown = try await t.send(.POST, url, headers: auth, body: Data(Self.comment(key: "MW-NOPE").utf8))
        #expect(unknown.status == 500)
        #expect(unknown.text.contains("does not exist"))
        let obj = try await t.send(.POST, url, headers: auth, body: Data(Self.comment(key: id, entity: "OBJ").utf8))
        #expect(obj.status == 500 && obj.text.contains("not supported"))
        let otherOrg = try await t.send(.POST, url, headers: auth, body: Data(Self.comment(key: id, org: "ORG2").utf8))
        #expect(otherOrg.status == 500)
        let empty = try await t.send(.POST, url, headers: auth, body: Data(Self.comment(key: id, text: " ").utf8))
        #expect(empty.status == 500 && empty.text.contains("COMMENTTEXT"))
        let noAuth = try await t.send(.POST, url, headers: [("Content-Type", "text/xml")], body: Data(Self.comment(key: id).utf8))
        #expect(noAuth.status == 401)
        let noTenant = try await t.send(.POST, url, headers: auth, body: Data(Self.comment(key: id).replacingOccurrences(of: "PLANT1_TST", with: "").utf8))
        #expect(noTenant.status == 500 && noTenant.text.contains("Tenant"))
        let ok = try await t.send(.POST, url, headers: auth, body: Data(Self.comment(key: id, text: "a &amp; b").utf8))
        #expect(ok.status == 200 && ok.text.contains("LINENUM"))
        #expect(await emu.state.all().first { $0.reference == id }?.notes.last == "a & b")
    }

    @Test func failingCommentRouteDoesNotFailTheCreate() async throws {
        let emu = try await RunningEmulator.start { HxGNEAMEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(LimbleHxGNTests.hxgn(emu.baseURL, ["comments_path": "/axis/services/Missing"]), http: HTTPClient.test())
        #expect(await c.create(Fixtures.draft()) == .created(cmmsId: "MW-ABCDEF123456"))
        #expect(await emu.state.all().first?.notes == [])
        #expect(await c.addNote(cmmsId: "MW-ABCDEF123456", text: "x") == false)
        // A SOAP fault (work order unknown in that organization) answers false.
        let c2 = try CMMSRegistry.makeConnector(LimbleHxGNTests.hxgn(emu.baseURL, ["organization": "ORG2"]), http: HTTPClient.test())
        #expect(await c2.addNote(cmmsId: "MW-ABCDEF123456", text: "x") == false)
    }

    @Test func longTextIsCutAtALineKeepingTheEvidenceLink() {
        let body = (1...400).map { "line \($0): " + String(repeating: "x", count: 20) }.joined(separator: "\n")
        let draft = Fixtures.draft(description: body + "\nEvidence: https://mw.example/e/1")
        let text = HxGNEAMConnector.commentText(draft)
        #expect(text.count <= HxGNEAMConnector.commentMax)
        #expect(text.hasSuffix("Evidence: https://mw.example/e/1"))
        #expect(text.hasPrefix("line 1: "))
        let kept = text.components(separatedBy: "\n").dropLast(2)
        #expect(kept.allSatisfy { $0.hasSuffix(String(repeating: "x", count: 20)) })
    }
}
