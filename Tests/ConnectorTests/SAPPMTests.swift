import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// The SAP PM connector against the SAP emulator, which validates against the real EDMX.
@Suite(.serialized) struct SAPPMTests {
    static func settings(_ url: String, _ extra: [String: String] = [:]) -> TestCMMS {
        var s = TestCMMS(name: "s4", kind: "sap-pm", baseURL: url)
        s.auth = .basic(user: "MW_INTEGRATION", password: "secret")
        s.options = ["plant": "1010", "notification_type": "M2"].merging(extra) { $1 }
        return s
    }

    static func start(_ options: EmulatorOptions = EmulatorOptions(), models: SAPPMEmulator.Models? = nil) async throws -> RunningEmulator {
        let m = models ?? SAPPMEmulator.Models.load(from: Fixtures.specs)
        return try await RunningEmulator.start(options: options) { SAPPMEmulator.router(state: $0, models: m) }
    }

    @Test func createsNotificationWithOrderAttachmentAndReadsStatusBack() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["create_order": "true", "order_type": "PM01", "work_center": "MECH",
                                                                      "technical_object": "functional_location", "timezone": "Europe/Berlin",
                                                                      "false_positive_code_group": "MW-QA", "false_positive_code": "FP",
                                                                      // Map options written as one string, as a `sap:` block carries them.
                                                                      "status_map": "ZZCL=cancelled"]), http: http)
        let outcome = await c.create(Fixtures.draft())
        guard case .created(let id) = outcome else { Issue.record("expected created, got \(outcome)"); return }

        let wo = try #require(await emu.state.find(id: id))
        let body = try #require(wo.body.objectValue)
        #expect(body["NotificationText"]?.stringValue == "Crack at C2 head pulley")
        #expect(body["NotificationType"]?.stringValue == "M2")
        #expect(body["MaintPriority"]?.stringValue == "1")
        #expect(body["MaintenanceObjectIsDown"]?.boolValue == true)
        #expect(body["TechnicalObject"]?.stringValue == "1010-C2-HP")
        #expect(body["TechObjIsEquipOrFuncnlLoc"]?.stringValue == "EAMS_FL")
        #expect(body["MaintenancePlanningPlant"]?.stringValue == "1010")
        #expect(body["MaintNotifExtReferenceNumber"]?.stringValue == "MW-ABCDEF123456")
        // 2025-11-22 14:05:09 UTC is 15:05:09 in Berlin; the date part is midnight of that day.
        #expect(body["MalfunctionStartTime"]?.stringValue == "PT15H05M09S")
        #expect(body["MalfunctionStartDate"]?.stringValue == "/Date(1763769600000)/")
        #expect(body["MaintNotifLongTextForEdit"]?.stringValue?.contains("CAM-07") == true)

        #expect(await c.attach(cmmsId: id, filename: "MW-ABCDEF123456.jpg", jpeg: Fixtures.jpeg))
        #expect(await emu.state.find(id: id)?.attachments == ["MW-ABCDEF123456.jpg"])

        // The linked order put the notification in process (NOPR ORAS).
        #expect(try await c.status(cmmsId: id) == .inProgress)
        #expect(await c.lookup(reference: "MW-ABCDEF123456") == .lookupFound(cmmsId: id))
        #expect(await c.lookup(reference: "MW-000000000000") == .lookupNotFound)
        #expect(await c.addNote(cmmsId: id, text: "3 more detections"))
        #expect(await emu.state.find(id: id)?.notes == ["3 more detections"])

        try await technician(emu, id, ["status": "completed"])
        #expect(try await c.status(cmmsId: id) == .completed)
        try await technician(emu, id, ["status": "completed", "code_group": "MW-QA", "code": "FP"])
        #expect(try await c.status(cmmsId: id) == .falsePositive)
        try await technician(emu, id, ["status": "cancelled"])
        #expect(try await c.status(cmmsId: id) == .cancelled)
        let sap = try #require(c as? SAPPMConnector)
        #expect(sap.mapStatus(phase: "1", systemStatus: "OSNO ZZCL", codeGroup: nil, code: nil) == .cancelled)
        #expect(sap.mapStatus(phase: "3", systemStatus: "", codeGroup: nil, code: nil) == .inProgress)
    }

    func technician(_ emu: RunningEmulator, _ id: String, _ body: [String: String]) async throws {
        let http = HTTPClient.test()
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        let r = try await t.send(.POST, emu.baseURL + "/_emulator/sap/notifications/\(id)", headers: [("Content-Type", "application/json")],
                                 body: try JSONSerialization.data(withJSONObject: body))
        #expect(r.status == 200)
    }

    @Test func technicianFunctionImportsChangeStatus() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        guard case .created(let id) = await c.create(Fixtures.draft(priority: .medium)) else { Issue.record("not created"); return }
        #expect(try await c.status(cmmsId: id) == .open)
        // What a technician's app does: CSRF fetch, then the function import with the token and cookie.
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        let auth = HTTPTransport.authHeaders(.basic(user: "TECH", password: "x"))
        let svc = emu.baseURL + "/sap/opu/odata/sap/API_MAINTNOTIFICATION"
        let f = try await t.send(.GET, svc + "/", headers: auth + [("X-CSRF-Token", "Fetch")])
        let token = try #require(f.headers.first(name: "x-csrf-token"))
        let cookie = try #require(f.headers.first(name: "set-cookie")?.split(separator: ";").first.map(String.init))
        let r = try await t.send(.POST, svc + "/SetMaintNotifToInProcess?MaintenanceNotification='\(id)'", headers: auth + [("X-CSRF-Token", token), ("Cookie", cookie)])
        #expect(r.status == 200)
        #expect(try await c.status(cmmsId: id) == .inProgress)
        _ = try await t.send(.POST, svc + "/CompleteMaintNotification?MaintenanceNotification='\(id)'", headers: auth + [("X-CSRF-Token", token), ("Cookie", cookie)])
        #expect(try await c.status(cmmsId: id) == .completed)
    }

    @Test func retriesThroughInjectedFaultsWithoutDuplicates() async throws {
        var o = EmulatorOptions()
        o.failRate = 0.4
        o.seed = 7
        let emu = try await Self.start(o)
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        let refs = (1...6).map { String(format: "MW-FAULT%07d", $0) }
        for ref in refs {
            let outcome = await Dispatch.deliver(c, Fixtures.draft(reference: ref))
            switch outcome {
            case .created, .lookupFound: break
            default: Issue.record("\(ref) not delivered: \(outcome)")
            }
        }
        let all = await emu.state.all()
        for ref in refs { #expect(all.filter { $0.reference == ref }.count == 1, "exactly one notification for \(ref)") }
        #expect(await emu.state.injectedFailures > 0)
    }

    @Test func validationErrorIsPermanentWithSAPMessage() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        // An asset id from the register longer than TechnicalObject's MaxLength 40.
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        var draft = Fixtures.draft()
        draft.asset = String(repeating: "A", count: 41)
        let outcome = await c.create(draft)
        guard case .permanent(let msg) = outcome else { Issue.record("expected permanent, got \(outcome)"); return }
        #expect(msg.contains("TechnicalObject"))
        #expect(msg.contains("maximum is 40"))
        #expect(await emu.state.all().isEmpty)

        // An unmapped priority is rejected the same way.
        let p = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["priority_map.critical": "9"]), http: http)
        guard case .permanent(let m2) = await p.create(Fixtures.draft()) else { Issue.record("expected permanent"); return }
        #expect(m2.contains("Priority 9"))
    }

    @Test func emulatorRejectsUnknownPropertyWrongTypeAndMissingToken() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        let auth = HTTPTransport.authHeaders(.basic(user: "U", password: "p"))
        let svc = emu.baseURL + "/sap/opu/odata/sap/API_MAINTNOTIFICATION"
        let json = [("Content-Type", "application/json")]
        // No token at all → 403 Required.
        let noToken = try await t.send(.POST, svc + "/MaintenanceNotification", headers: auth + json, body: Data(#"{"NotificationText":"x"}"#.utf8))
        #expect(noToken.status == 403)
        #expect(noToken.headers.first(name: "x-csrf-token") == "Required")
        let f = try await t.send(.GET, svc + "/", headers: auth + [("X-CSRF-Token", "Fetch")])
        let token = try #require(f.headers.first(name: "x-csrf-token"))
        let cookie = try #require(f.headers.first(name: "set-cookie")?.split(separator: ";").first.map(String.init))
        // Token without its session cookie → still rejected.
        let noCookie = try await t.send(.POST, svc + "/MaintenanceNotification", headers: auth + json + [("X-CSRF-Token", token)], body: Data(#"{"NotificationText":"x"}"#.utf8))
        #expect(noCookie.status == 403)
        let h = auth + json + [("X-CSRF-Token", token), ("Cookie", cookie)]
        let cases: [(String, String)] = [
            (#"{"NotificationText":"x","ZZ1_work_test_NTF":"a","Bogus":1}"#, "Property 'Bogus' is invalid"),
            (#"{"NotificationText":"x","ZZ1_work_test_NTF":"a"}"#, "Property 'ZZ1_work_test_NTF' is invalid"),
            (#"{"NotificationText":"x","MaintenanceObjectIsDown":"yes"}"#, "expected true or false"),
            (#"{"NotificationText":"x","MalfunctionStartTime":"14:05"}"#, "PT14H30M00S"),
            (#"{"NotificationText":"x","MaintenanceNotification":"1"}"#, "read-only"),
            (#"{"MaintPriority":"1"}"#, "NotificationText"),
            (#"{"NotificationText":"12345678901234567890123456789012345678901"}"#, "maximum is 40"),
        ]
        for (body, expected) in cases {
            let r = try await t.send(.POST, svc + "/MaintenanceNotification", headers: h, body: Data(body.utf8))
            #expect(r.status == 400, "\(body)")
            #expect(OData.errorMessage(r).contains(expected), "\(body): \(OData.errorMessage(r))")
        }
        #expect(await emu.state.all().isEmpty)
    }

    @Test func refetchesCSRFTokenOnceWhenTheSessionExpired() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        guard case .created = await c.create(Fixtures.draft(reference: "MW-CSRF00000001")) else { Issue.record("first create failed"); return }
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        _ = try await t.send(.POST, emu.baseURL + "/_emulator/sap/expire-csrf")
        let second = await c.create(Fixtures.draft(reference: "MW-CSRF00000002"))
        guard case .created = second else { Issue.record("expected the connector to refetch the token, got \(second)"); return }
        #expect(await emu.state.all().count == 2)
    }

    @Test func checkConnectionReportsEachStepAndTheFix() async throws {
        var o = EmulatorOptions()
        o.credentials = ["MW_INTEGRATION:secret"]
        let emu = try await Self.start(o)
        defer { emu.stop() }
        let http = HTTPClient.test()
        let ok = try await CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["create_order": "true"]), http: http).checkConnection()
        #expect(ok.map(\.step) == ["authenticate", "create permission", "attachment upload", "order service"])
        let allOK = ok.allSatisfy { $0.ok }
        #expect(allOK, "\(ok)")
        var bad = Self.settings(emu.baseURL)
        bad.auth = .basic(user: "MW_INTEGRATION", password: "wrong")
        let failed = try await CMMSRegistry.makeConnector(bad, http: http).checkConnection()
        #expect(failed.count == 1)
        #expect(failed[0].ok == false)
        #expect(failed[0].fix?.contains("password") == true)
    }

    @Test func worksOnTheBuiltInTablesAsMillwrightEmulateDoes() async throws {
        let emu = try await Self.start(models: SAPPMEmulator.Models.load(from: nil))
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["create_order": "true"]), http: http)
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        #expect(await c.attach(cmmsId: id, filename: "e.jpg", jpeg: Fixtures.jpeg))
        var long = Fixtures.draft()
        long.asset = String(repeating: "A", count: 41)
        guard case .permanent = await c.create(long) else {
            Issue.record("the built-in table must still enforce MaxLength"); return
        }
    }

    @Test func misconfigurationIsReportedAtStartup() throws {
        let http = HTTPClient.test()
        #expect(throws: ConfigError.self) { try CMMSRegistry.makeConnector(Self.settings("http://127.0.0.1:1", ["technical_object": "plant"]), http: http) }
        #expect(throws: ConfigError.self) { try CMMSRegistry.makeConnector(Self.settings("http://127.0.0.1:1", ["timezone": "Mars/Olympus"]), http: http) }
        #expect(throws: ConfigError.self) { try CMMSRegistry.makeConnector(Self.settings("http://127.0.0.1:1", ["plant": "10100"]), http: http) }
    }
}
