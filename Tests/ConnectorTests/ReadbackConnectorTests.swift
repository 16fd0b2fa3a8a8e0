import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import MillwrightTesting
import NIOCore
import Testing

/// Each connector's `readBack` against its emulator: a work order delivered, our evidence and a
/// note of ours on it, then completed by a technician with a closure code, notes and a photo.
/// The connector brings back the technician's part only, in each system's own shape.
@Suite struct ReadbackConnectorTests {
    struct Case: Sendable, CustomStringConvertible {
        var kind: String
        var auth: CMMSAuth
        var options: [String: String] = [:]
        var code: String
        var expectedCode: String
        var readsNotes = true
        /// Appended to the emulator's address: MaintainX's `base_url` ends in its version.
        var path = ""
        var description: String { kind }
    }

    static let cases: [Case] = [
        Case(kind: "maintainx", auth: .bearer(token: "t"), code: "Belt replaced", expectedCode: "DONE (Belt replaced)", path: "/v1"),
        Case(kind: "upkeep", auth: .session(user: "tech@plant.example", password: "pw"), code: "Damage", expectedCode: "Damage", readsNotes: false),
        Case(kind: "maximo", auth: .apiKey(key: "k"), options: ["site": "BEDFORD"], code: "BELTWORN", expectedCode: "COMP, problem BELTWORN"),
        Case(kind: "sap-pm", auth: .basic(user: "u", password: "p"), code: "PM01/0010", expectedCode: "NOCO, coding PM01/0010"),
    ]

    static let photo = Data([0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: UInt8(0x17), count: 4096) + [0xFF, 0xD9])

    static func complete(_ base: String, id: String, code: String, notes: [String], photo: (String, String, Data)?) async throws {
        var body: [String: JSONValue] = ["code": .string(code), "notes": .array(notes.map(JSONValue.string))]
        if let (name, type, data) = photo {
            body["photo"] = .object(["name": .string(name), "content_type": .string(type), "data_base64": .string(data.base64EncodedString())])
        }
        var req = HTTPClientRequest(url: base + "/_emulator/work-orders/\(id)/complete")
        req.method = .POST
        req.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(JSONValue.object(body))))
        #expect(try await HTTPClient.shared.execute(req, timeout: .seconds(30)).status.code == 200)
    }

    @Test(arguments: cases)
    func theTechniciansClosureComesBackInTheSystemsShape(_ c: Case) async throws {
        let emu = try await RunningEmulator.start(try #require(EmulatorRegistry.entry(c.kind)).router)
        defer { emu.stop() }
        var entry = TestCMMS(name: "cmms", kind: c.kind, baseURL: emu.baseURL + c.path)
        entry.auth = c.auth
        entry.options = c.options
        let connector = try CMMSRegistry.makeConnector(entry, http: .test())
        // As every work order's text does, the description names our reference (SAP tells its own long text by it).
        let draft = Fixtures.draft(reference: "MW-RB0000000001", description: "Defect: crack detected by camera CAM-07\nDetection: d1 · Millwright reference MW-RB0000000001 · site plant-1")
        guard case .created(let id) = await Dispatch.deliver(connector, draft) else { Issue.record("not delivered"); return }
        #expect(await connector.attach(cmmsId: id, filename: "\(draft.reference)-evidence.jpg", jpeg: Fixtures.jpeg))
        _ = await connector.addNote(cmmsId: id, text: "Millwright: 2 more detection(s) of this defect, last at 2026-11-29T10:00:00Z UTC.")
        let emulatorId = try #require(await emu.state.find(reference: draft.reference).first?.id)
        try await Self.complete(emu.baseURL, id: emulatorId, code: c.code, notes: ["Replaced the belt", "Checked tracking"], photo: ("after.jpg", "image/jpeg", Self.photo))

        guard case .read(let r) = await connector.readBack(cmmsId: id, reference: draft.reference) else { Issue.record("not read"); return }
        #expect(r.closureCode == c.expectedCode)
        #expect(r.notes.map(\.text) == (c.readsNotes ? ["Replaced the belt", "Checked tracking"] : []), "the technician's notes, not ours")
        #expect(r.photo?.data == Self.photo, "the technician's photo, not our evidence")
        #expect(r.photo?.filename == "after.jpg")
        #expect(r.refused.isEmpty, "\(r.refused)")
    }

    @Test func aFileThatIsNotAPhotoIsSaidAndTheNewestImageKept() async throws {
        let emu = try await RunningEmulator.start(MaintainXEmulator.router)
        defer { emu.stop() }
        var entry = TestCMMS(name: "cmms", kind: "maintainx", baseURL: emu.baseURL + "/v1")
        entry.auth = .bearer(token: "t")
        let connector = try CMMSRegistry.makeConnector(entry, http: .test())
        guard case .created(let id) = await Dispatch.deliver(connector, Fixtures.draft(reference: "MW-RB0000000002")) else { Issue.record("not delivered"); return }
        #expect(await emu.state.attach(id: id, name: "report.pdf", data: Data("%PDF-1.4".utf8), contentType: "application/pdf"))
        try await Self.complete(emu.baseURL, id: id, code: "Done", notes: [], photo: ("after.png", "image/png", Self.photo))
        guard case .read(let r) = await connector.readBack(cmmsId: id, reference: "MW-RB0000000002") else { Issue.record("not read"); return }
        #expect(r.photo?.filename == "after.png")
        #expect(r.refused == ["report.pdf: application/pdf is not a JPEG or PNG photo"])
    }

    @Test func aSystemWithoutReadBackSaysSoExplicitly() async throws {
        var entry = TestCMMS(name: "cmms", kind: "fiix", baseURL: "http://127.0.0.1:9")
        entry.options = ["site_id": "1"]
        entry.auth = .hmac(appKey: "a", accessKey: "b", secret: "c")
        let connector = try CMMSRegistry.makeConnector(entry, http: .test())
        guard case .unsupported(let why) = await connector.readBack(cmmsId: "1", reference: "MW-1") else { Issue.record("expected unsupported"); return }
        #expect(why.contains("fiix"))
        #expect(CMMSRegistry.all.filter { $0.capabilities.contains(.readBack) }.map(\.name).sorted() == ["maintainx", "maximo", "sap-pm", "upkeep"])
    }

    @Test func sapLongTextEntriesAreSplitAtSAPsHeadersWithoutOurs() {
        let text = """
            Defect: crack detected by camera CAM-07
            Detection: d1 · Millwright reference MW-1 · site plant-1
            29.11.2026 17:02:11 UTC ( RFC_MWRIGHT )
            Millwright: 2 more detection(s) of this defect.
            29.11.2026 17:40:00 UTC ( TECH01 )
            Replaced the belt.
            Tension checked.
            """
        let notes = SAPPMConnector.longTextEntries(text, reference: "MW-1")
        #expect(notes == [ReadbackNote(text: "Replaced the belt.\nTension checked.", author: "TECH01")])
        #expect(SAPPMConnector.longTextEntries("Free text from the planner", reference: "MW-1").map(\.text) == ["Free text from the planner"])
    }
}
