import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// Limble and HxGN EAM against their emulators.
@Suite(.serialized) struct LimbleHxGNTests {
    static func limble(_ url: String, _ extra: [String: String] = [:]) -> TestCMMS {
        var s = TestCMMS(name: "limble", kind: "limble", baseURL: url)
        s.auth = .client(id: "client", secret: "secret")
        s.options = ["location_id": "3", "status_map": "7=in_progress"].merging(extra) { $1 }
        return s
    }

    static func withReference(_ ref: String) -> WorkOrderDraft {
        var d = Fixtures.draft(reference: ref)
        d.description += "\nDetection: d1 · Millwright reference \(ref) · site plant-1"
        return d
    }

    @Test func limbleCreatesLooksUpNotesAndReadsStatus() async throws {
        let emu = try await RunningEmulator.start { LimbleEmulator.router(state: $0) }
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.limble(emu.baseURL), http: http)
        guard case .created(let id) = await c.create(Self.withReference("MW-LIMBLE000001")) else { Issue.record("not created"); return }
        let body = try #require(await emu.state.find(id: id)?.body.objectValue)
        #expect(body["locationID"]?.doubleValue == 3 && body["assetID"]?.doubleValue == 10004712 && body["priority"]?.doubleValue == 1 && body["type"]?.doubleValue == 2)
        #expect(await c.lookup(reference: "MW-LIMBLE000001") == .lookupFound(cmmsId: id))
        #expect(await c.lookup(reference: "MW-LIMBLE000002") == .lookupNotFound)
        #expect(await c.addNote(cmmsId: id, text: "3 more detections"))
        #expect(try await c.status(cmmsId: id) == .open)
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        let auth = HTTPTransport.authHeaders(.client(id: "tech", secret: "x")) + [("Content-Type", "application/json")]
        for (body, expected) in [(#"{"statusID":7}"#, CMMSStatus.inProgress), (#"{"dateCompleted":1763800000}"#, .completed)] {
            #expect(try await t.send(.PATCH, emu.baseURL + "/v2/tasks/\(id)", headers: auth, body: Data(body.utf8)).status == 200)
            #expect(try await c.status(cmmsId: id) == expected)
        }
        guard case .permanent(let msg) = await (try CMMSRegistry.makeConnector(Self.limble(emu.baseURL, ["location_id": "42"]), http: http)).create(Fixtures.draft()) else {
            Issue.record("expected permanent"); return
        }
        #expect(msg.contains("locationID must be an existing location"))
        let checks = await c.checkConnection()
        let allOK = checks.allSatisfy { $0.ok }
        #expect(allOK)
    }

    @Test func limbleRetriesWithoutDuplicates() async throws {
        var o = EmulatorOptions()
        o.failRate = 0.4
        o.seed = 21
        let emu = try await RunningEmulator.start(options: o) { LimbleEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(Self.limble(emu.baseURL), http: HTTPClient.test())
        let refs = (1...5).map { String(format: "MW-LIM%09d", $0) }
        for ref in refs {
            switch await Dispatch.deliver(c, Self.withReference(ref)) {
            case .created, .lookupFound: break
            case let other: Issue.record("\(ref): \(other)")
            }
        }
        let all = await emu.state.all()
        for ref in refs { #expect(all.filter { $0.reference == ref }.count == 1, "\(ref)") }
    }

    /// #11.1: a task created at a location from `location_map` is found by the lookup, so a
    /// lost create answer does not make a second task.
    @Test func aTaskAtAMappedLocationIsFoundByTheLookup() async throws {
        let emu = try await RunningEmulator.start { LimbleEmulator.router(state: $0) }
        defer { emu.stop() }
        var draft = Self.withReference("MW-LIMBLEMAP001")
        draft.location = "Line 2"
        let c = try CMMSRegistry.makeConnector(Self.limble(emu.baseURL, ["location_map": "Line 2=5"]), http: HTTPClient.test())
        guard case .created(let id) = await c.create(draft) else { Issue.record("not created"); return }
        #expect(await emu.state.find(id: id)?.body["locationID"]?.doubleValue == 5)
        #expect(await c.lookup(reference: "MW-LIMBLEMAP001") == .lookupFound(cmmsId: id))
    }

    static func hxgn(_ url: String, _ extra: [String: String] = [:]) -> TestCMMS {
        var s = TestCMMS(name: "eam", kind: "hxgn-eam", baseURL: url)
        s.auth = .basic(user: "MWINT", password: "pw")
        s.options = ["tenant": "PLANT1_TST", "organization": "ORG1", "department": "MECH"].merging(extra) { $1 }
        return s
    }

    @Test func hxgnCreatesWithHeadersAndTreatsDuplicateAsCreated() async throws {
        let emu = try await RunningEmulator.start { HxGNEAMEmulator.router(state: $0) }
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.hxgn(emu.baseURL), http: http)
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        #expect(id == "MW-ABCDEF123456")
        #expect(await c.create(Fixtures.draft()) == .created(cmmsId: id))
        #expect(await emu.state.all().count == 1)
        #expect(await c.lookup(reference: id) == .lookupFound(cmmsId: id))
        #expect(await c.lookup(reference: "MW-NOPE") == .lookupNotFound)
        #expect(try await c.status(cmmsId: id) == .open)
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        let h = HTTPTransport.authHeaders(.basic(user: "PLANNER", password: "x")) + [("tenant", "PLANT1_TST"), ("organization", "ORG1"), ("Content-Type", "application/json")]
        for (code, expected) in [("IP", CMMSStatus.inProgress), ("C", .completed), ("CANC", .cancelled)] {
            #expect(try await t.send(.PUT, emu.baseURL + "/axis/restservices/workorders/MW-ABCDEF123456%23ORG1", headers: h, body: Data(#"{"STATUS":{"STATUSCODE":"\#(code)"}}"#.utf8)).status == 200)
            #expect(try await c.status(cmmsId: id) == expected)
        }
        // Without the organization header matching the record, EAM refuses.
        guard case .permanent(let msg) = await (try CMMSRegistry.makeConnector(Self.hxgn(emu.baseURL, ["status": "XX"]), http: http)).create(Fixtures.draft(reference: "MW-HXGN00000002")) else {
            Issue.record("expected permanent"); return
        }
        #expect(msg.contains("Status XX is not valid"))
        let checks = await c.checkConnection()
        let allOK = checks.allSatisfy { $0.ok }
        #expect(allOK, "\(checks)")
        #expect(throws: ConfigError.self) { try CMMSRegistry.makeConnector(Self.hxgn(emu.baseURL, ["tenant": ""]), http: http) }
    }

    @Test func hxgnRetriesWithoutDuplicates() async throws {
        var o = EmulatorOptions()
        o.failRate = 0.4
        o.seed = 17
        let emu = try await RunningEmulator.start(options: o) { HxGNEAMEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(Self.hxgn(emu.baseURL), http: HTTPClient.test())
        let refs = (1...5).map { String(format: "MW-HXG%09d", $0) }
        for ref in refs {
            switch await Dispatch.deliver(c, Fixtures.draft(reference: ref)) {
            case .created, .lookupFound: break
            case let other: Issue.record("\(ref): \(other)")
            }
        }
        let all = await emu.state.all()
        for ref in refs { #expect(all.filter { $0.reference == ref }.count == 1, "\(ref)") }
    }
}
