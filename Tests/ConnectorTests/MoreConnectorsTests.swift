import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// UpKeep, Fiix and Oracle Fusion Maintenance against their emulators.
@Suite(.serialized) struct MoreConnectorsTests {
    static func deliverAll(_ c: any CMMSConnector, _ emu: RunningEmulator, prefix: String) async {
        await Dispatch.deliverEachExactlyOnce(c, emu, (1...5).map { String(format: "MW-\(prefix)%06d", $0) })
    }

    static func faulty(_ seed: UInt64) -> EmulatorOptions {
        var o = EmulatorOptions()
        o.failRate = 0.4
        o.seed = seed
        return o
    }

    // MARK: UpKeep

    static func upkeep(_ url: String) -> TestCMMS {
        var s = TestCMMS(name: "upkeep", kind: "upkeep", baseURL: url)
        s.auth = .session(user: "integration@plant.example", password: "pw")
        s.options = ["category": "Vision", "asset_map.10004712": "aXb12"]
        return s
    }

    @Test func upkeepCreatesAttachesReadsStatusAndLogsInAgainAfterExpiry() async throws {
        let emu = try await RunningEmulator.start { UpKeepEmulator.router(state: $0) }
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.upkeep(emu.baseURL), http: http)
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        let body = try #require(await emu.state.find(id: id)?.body.objectValue)
        #expect(body["priority"]?.doubleValue == 3)
        #expect(body["asset"]?.stringValue == "aXb12")
        #expect(body["category"]?.stringValue == "Vision")
        #expect(await c.attach(cmmsId: id, filename: "MW-ABCDEF123456.jpg", jpeg: Fixtures.jpeg))
        #expect(await emu.state.find(id: id)?.attachments == ["MW-ABCDEF123456.jpg"])
        #expect(await emu.state.file(id: id, name: "MW-ABCDEF123456.jpg") == Fixtures.jpeg)
        // The session expires: the next call logs in again by itself.
        _ = try await HTTPTransport(client: http, timeout: .seconds(5)).send(.POST, emu.baseURL + "/_emulator/upkeep/expire-sessions")
        #expect(await c.lookup(reference: "MW-ABCDEF123456") == .lookupNotFound, "the fixture's description has no reference line")
        var withRef = Fixtures.draft(reference: "MW-UPKEEP000001")
        withRef.description += "\nDetection: d1 · Millwright reference MW-UPKEEP000001 · site plant-1"
        guard case .created(let id2) = await c.create(withRef) else { Issue.record("not created"); return }
        #expect(await c.lookup(reference: "MW-UPKEEP000001") == .lookupFound(cmmsId: id2))
        #expect(try await c.status(cmmsId: id) == .open)
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        let login = try await t.send(.POST, emu.baseURL + "/api/v2/auth/", headers: [("Content-Type", "application/json")], body: Data(#"{"email":"tech@plant.example","password":"x"}"#.utf8))
        let token = try #require(login.json?["result"]?["sessionToken"]?.stringValue)
        for (s, expected) in [("inProgress", CMMSStatus.inProgress), ("complete", .completed)] {
            let r = try await t.send(.PATCH, emu.baseURL + "/api/v2/work-orders/\(id)", headers: [("Session-Token", token), ("Content-Type", "application/json")], body: Data(#"{"status":"\#(s)"}"#.utf8))
            #expect(r.status == 200)
            #expect(try await c.status(cmmsId: id) == expected)
        }
    }

    /// The composer's long text always ends with the reference line (UpKeep and Fiix look it up by it).
    static func draftWithReferenceLine(_ ref: String) -> WorkOrderDraft {
        var d = Fixtures.draft(reference: ref)
        d.description += "\nMillwright reference \(ref)"
        return d
    }

    @Test func upkeepRetriesWithoutDuplicatesAndRejectsBadInput() async throws {
        let emu = try await RunningEmulator.start(options: Self.faulty(5)) { UpKeepEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(Self.upkeep(emu.baseURL), http: HTTPClient.test())
        await Dispatch.deliverEachExactlyOnce(c, emu, (1...5).map { String(format: "MW-UPK%09d", $0) },
                                              draft: Self.draftWithReferenceLine, requireInjectedFaults: false)
        var bad = Self.upkeep(emu.baseURL)
        bad.options["priority_map.critical"] = "7"
        let failing = try CMMSRegistry.makeConnector(bad, http: HTTPClient.test())
        var outcome = DeliveryState.Outcome.lookupNotFound
        for _ in 0..<10 { outcome = await failing.create(Fixtures.draft()); if case .permanent = outcome { break } }
        guard case .permanent(let msg) = outcome else { Issue.record("expected permanent, got \(outcome)"); return }
        #expect(msg.contains("priority must be 0, 1, 2 or 3"))
    }

    @Test func upkeepCheckConnectionSignsInAndNamesBadCredentials() async throws {
        let emu = try await RunningEmulator.start(options: .accepting(["integration@plant.example:pw"])) { UpKeepEmulator.router(state: $0) }
        defer { emu.stop() }
        let http = HTTPClient.test()
        let ok = await (try CMMSRegistry.makeConnector(Self.upkeep(emu.baseURL), http: http)).checkConnection()
        #expect(ok.map(\.step) == ["authenticate", "create permission", "attachment upload"])
        let allOK = ok.allSatisfy { $0.ok }
        #expect(allOK, "\(ok)")
        var bad = Self.upkeep(emu.baseURL)
        bad.auth = .session(user: "integration@plant.example", password: "wrong")
        let failed = await (try CMMSRegistry.makeConnector(bad, http: http)).checkConnection()
        #expect(failed.count == 1 && failed[0].step == "authenticate" && !failed[0].ok)
        #expect(failed[0].detail.contains("HTTP 401") && failed[0].detail.contains("Invalid email or password"), "\(failed[0].detail)")
        #expect(failed[0].fix?.contains("email and password") == true)
        #expect(await emu.state.all().isEmpty, "checking creates nothing")
    }

    // MARK: Fiix

    static func fiix(_ url: String, _ extra: [String: String] = [:]) -> TestCMMS {
        var s = TestCMMS(name: "fiix", kind: "fiix", baseURL: url)
        s.auth = .hmac(appKey: "app", accessKey: "acc", secret: "s3cret")
        s.options = ["site_id": "7"].merging(extra) { $1 }
        return s
    }

    @Test func fiixSignsRequestsLooksUpPrioritiesAndReadsStatus() async throws {
        let emu = try await RunningEmulator.start(options: .accepting(["acc:s3cret"])) { FiixEmulator.router(state: $0) }
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.fiix(emu.baseURL), http: http)
        var d = Fixtures.draft()
        d.description += "\nMillwright reference MW-ABCDEF123456"
        guard case .created(let id) = await c.create(d) else { Issue.record("not created"); return }
        let wo = try #require(await emu.state.find(id: id))
        #expect(wo.body["intPriorityID"]?.doubleValue == 101)
        #expect(wo.body["intSiteID"]?.doubleValue == 7)
        #expect(wo.asset == "10004712", "linked through WorkOrderAsset")
        #expect(await c.lookup(reference: "MW-ABCDEF123456") == .lookupFound(cmmsId: id))
        #expect(await c.lookup(reference: "MW-000000000000") == .lookupNotFound)
        #expect(try await c.status(cmmsId: id) == .open)
        // A technician changes the status (ChangeRequest, signed like any client).
        for (sid, expected) in [(3, CMMSStatus.inProgress), (5, .completed), (6, .cancelled)] {
            let url = emu.baseURL + "/api/?service=cmms&appKey=app&accessKey=acc&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=\(Int64(Date().timeIntervalSince1970 * 1000))"
            let r = try await HTTPTransport(client: http, timeout: .seconds(5)).send(.POST, url, headers: [("Authorization", FiixConnector.signature(url: url, secret: "s3cret")), ("Content-Type", "text/plain")],
                body: Data(#"{"_maCn":"ChangeRequest","className":"WorkOrder","object":{"id":\#(id),"intWorkOrderStatusID":\#(sid)}}"#.utf8))
            #expect(r.json?["error"] == nil, "\(r.text)")
            #expect(try await c.status(cmmsId: id) == expected)
        }
        let bad = try CMMSRegistry.makeConnector({ var s = Self.fiix(emu.baseURL); s.auth = .hmac(appKey: "app", accessKey: "acc", secret: "wrong"); return s }(), http: http)
        let checks = await bad.checkConnection()
        #expect(checks.first?.ok == false && checks.first?.detail.contains("Signature") == true)
        let good = await c.checkConnection()
        let allOK = good.allSatisfy { $0.ok }
        #expect(allOK, "\(good)")
        let unknown = try CMMSRegistry.makeConnector(Self.fiix(emu.baseURL, ["priority_map.critical": "Urgent"]), http: http)
        guard case .permanent(let msg) = await unknown.create(d) else { Issue.record("expected permanent"); return }
        #expect(msg.contains("Urgent") && msg.contains("Highest"))
        let unknownCheck = await unknown.checkConnection()
        #expect(unknownCheck.contains { !$0.ok && $0.step == "create permission" })
    }

    @Test func fiixRetriesWithoutDuplicates() async throws {
        let emu = try await RunningEmulator.start(options: Self.faulty(9)) { FiixEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(Self.fiix(emu.baseURL), http: HTTPClient.test())
        await Dispatch.deliverEachExactlyOnce(c, emu, (1...5).map { String(format: "MW-FIX%09d", $0) },
                                              draft: Self.draftWithReferenceLine, requireInjectedFaults: false)
    }

    // MARK: Oracle

    static func oracle(_ url: String, _ extra: [String: String] = [:]) -> TestCMMS {
        var s = TestCMMS(name: "fusion", kind: "oracle-fusion", baseURL: url)
        s.auth = .basic(user: "maint.integration", password: "pw")
        s.options = ["organization": "M1"].merging(extra) { $1 }
        return s
    }

    @Test func oracleUpsertsAttachesAndReadsStatus() async throws {
        let emu = try await RunningEmulator.start { OracleMaintenanceEmulator.router(state: $0) }
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.oracle(emu.baseURL), http: http)
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        // The same work order again (a retry after a lost answer) updates, never duplicates.
        #expect(await c.create(Fixtures.draft()) == .created(cmmsId: id))
        #expect(await emu.state.all().count == 1)
        let body = try #require(await emu.state.find(id: id)?.body.objectValue)
        #expect(body["WorkOrderNumber"]?.stringValue == "MW-ABCDEF123456")
        #expect(body["WorkOrderPriority"]?.doubleValue == 1)
        #expect((body["WorkOrderDescription"]?.stringValue?.count ?? 999) <= 240)
        #expect(await c.attach(cmmsId: id, filename: "MW-ABCDEF123456.jpg", jpeg: Fixtures.jpeg))
        #expect(await emu.state.file(id: id, name: "MW-ABCDEF123456.jpg") == Fixtures.jpeg)
        #expect(await c.lookup(reference: "MW-ABCDEF123456") == .lookupFound(cmmsId: id))
        #expect(await c.lookup(reference: "MW-NOPE00000000") == .lookupNotFound)
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        for (code, expected) in [("ORA_RELEASED", CMMSStatus.inProgress), ("ORA_COMPLETED", .completed), ("ORA_CANCELED", .cancelled)] {
            let r = try await t.send(.PATCH, emu.baseURL + "/fscmRestApi/resources/11.13.18.05/maintenanceWorkOrders/\(id)",
                                     headers: HTTPTransport.authHeaders(.basic(user: "planner", password: "x")) + [("Content-Type", "application/json")],
                                     body: Data(#"{"WorkOrderStatusCode":"\#(code)"}"#.utf8))
            #expect(r.status == 200)
            #expect(try await c.status(cmmsId: id) == expected)
        }
        let checks = try await CMMSRegistry.makeConnector(Self.oracle(emu.baseURL), http: http).checkConnection()
        let allOK = checks.allSatisfy { $0.ok }
        #expect(allOK)
        // A too-long organization code is rejected with Oracle's text.
        guard case .permanent(let msg) = await (try CMMSRegistry.makeConnector(Self.oracle(emu.baseURL, ["organization": String(repeating: "M", count: 19)]), http: http)).create(Fixtures.draft()) else {
            Issue.record("expected permanent"); return
        }
        #expect(msg.contains("OrganizationCode is too long"))
    }

    @Test func oracleRetriesWithoutDuplicates() async throws {
        let emu = try await RunningEmulator.start(options: Self.faulty(13)) { OracleMaintenanceEmulator.router(state: $0) }
        defer { emu.stop() }
        await Self.deliverAll(try CMMSRegistry.makeConnector(Self.oracle(emu.baseURL), http: HTTPClient.test()), emu, prefix: "ORA")
    }
}
