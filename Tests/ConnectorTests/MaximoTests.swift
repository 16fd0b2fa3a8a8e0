import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// The Maximo connector against the Maximo emulator.
@Suite(.serialized) struct MaximoTests {
    static func settings(_ url: String, _ extra: [String: String] = [:]) -> TestCMMS {
        var s = TestCMMS(name: "maximo", kind: "maximo", baseURL: url)
        s.auth = .apiKey(key: "k3y")
        s.options = ["site": "BEDFORD", "org": "EAGLENA"].merging(extra) { $1 }
        return s
    }

    static func start(_ options: EmulatorOptions = EmulatorOptions()) async throws -> RunningEmulator {
        try await RunningEmulator.start(options: options) { MaximoEmulator.router(state: $0) }
    }

    @Test func createsWorkOrderWithAttachmentAndReadsStatusBack() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["worktype": "CM", "status_map.FALSEPOS": "false_positive"]), http: http)
        guard case .created(let id) = await c.create(Fixtures.draft(priority: .high)) else { Issue.record("not created"); return }
        let body = try #require(await emu.state.find(id: id)?.body.objectValue)
        #expect(body["siteid"]?.stringValue == "BEDFORD")
        #expect(body["orgid"]?.stringValue == "EAGLENA")
        #expect(body["description"]?.stringValue == "Crack at C2 head pulley")
        #expect(body["description_longdescription"]?.stringValue?.contains("CAM-07") == true)
        #expect(body["assetnum"]?.stringValue == "10004712")
        #expect(body["location"]?.stringValue == "1010-C2-HP")
        #expect(body["wopriority"]?.doubleValue == 2)
        #expect(body["worktype"]?.stringValue == "CM")
        #expect(body["externalrefid"]?.stringValue == "MW-ABCDEF123456")

        #expect(await c.attach(cmmsId: id, filename: "MW-ABCDEF123456.jpg", jpeg: Fixtures.jpeg))
        #expect(await emu.state.find(id: id)?.attachments == ["MW-ABCDEF123456.jpg"])
        #expect(await c.lookup(reference: "MW-ABCDEF123456") == .lookupFound(cmmsId: id))
        #expect(await c.lookup(reference: "MW-NOSUCHTHING1") == .lookupNotFound)
        #expect(await c.addNote(cmmsId: id, text: "3 more detections"))
        #expect(await emu.state.find(id: id)?.notes == ["3 more detections"])

        #expect(try await c.status(cmmsId: id) == .open)
        for (maximo, expected) in [("APPR", CMMSStatus.open), ("INPRG", .inProgress), ("COMP", .completed), ("CLOSE", .completed), ("CAN", .cancelled), ("FALSEPOS", .falsePositive)] {
            try await technician(emu, id, maximo)
            #expect(try await c.status(cmmsId: id) == expected, "\(maximo)")
        }
    }

    func technician(_ emu: RunningEmulator, _ id: String, _ status: String) async throws {
        let http = HTTPClient.test()
        let r = try await HTTPTransport(client: http, timeout: .seconds(5)).send(.POST, emu.baseURL + "/_emulator/maximo/work-orders/\(id)/status",
                                                                                 body: Data(#"{"status":"\#(status)"}"#.utf8))
        #expect(r.status == 200)
    }

    @Test func repeatedTransactionIdIs409AndCountsAsCreated() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        // The same work order again (a retry after a lost answer): Maximo answers 409.
        let raw = try await HTTPTransport(client: http, timeout: .seconds(5)).send(.POST, emu.baseURL + "/maximo/api/os/mxapiwodetail?lean=1",
            headers: [("apikey", "k3y"), ("transactionid", "MW-ABCDEF123456"), ("Content-Type", "application/json")], body: Data(#"{"siteid":"BEDFORD"}"#.utf8))
        #expect(raw.status == 409)
        #expect(await c.create(Fixtures.draft()) == .created(cmmsId: id))
        #expect(await emu.state.all().count == 1)
    }

    @Test func retriesThroughInjectedFaultsWithoutDuplicates() async throws {
        var o = EmulatorOptions()
        o.failRate = 0.4
        o.seed = 11
        let emu = try await Self.start(o)
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        let refs = (1...6).map { String(format: "MW-MXFAULT%05d", $0) }
        await Dispatch.deliverEachExactlyOnce(c, emu, refs)
    }

    @Test func validationErrorIsPermanentWithMaximoMessageVerbatim() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        // A site id longer than the column.
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["site": "BEDFORD-NORTH-1"]), http: http)
        guard case .permanent(let msg) = await c.create(Fixtures.draft()) else { Issue.record("expected permanent"); return }
        #expect(msg.contains("BMXAA4049E - The value specified exceeds the maximum field length for WORKORDER.SITEID"))
        // A reference field the object structure does not have.
        let d = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["reference_field": "mw_reference"]), http: http)
        guard case .permanent(let m2) = await d.create(Fixtures.draft()) else { Issue.record("expected permanent"); return }
        #expect(m2.contains("BMXAA8863E"))
        #expect(m2.contains("MW_REFERENCE") || m2.contains("mw_reference"))
        #expect(await emu.state.all().isEmpty)
    }

    @Test func checkConnectionAndBadKey() async throws {
        var o = EmulatorOptions()
        o.credentials = ["k3y"]
        let emu = try await Self.start(o)
        defer { emu.stop() }
        let http = HTTPClient.test()
        let ok = try await CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http).checkConnection()
        #expect(ok.map(\.step) == ["authenticate", "create permission", "attachment upload"])
        let allOK = ok.allSatisfy { $0.ok }
        #expect(allOK, "\(ok)")
        var bad = Self.settings(emu.baseURL)
        bad.auth = .apiKey(key: "wrong")
        let failed = try await CMMSRegistry.makeConnector(bad, http: http).checkConnection()
        #expect(failed.count == 1 && failed[0].ok == false)
        #expect(failed[0].detail.contains("BMXAA7901E"))
        #expect(failed[0].fix?.contains("API key") == true)
        // A create with the bad key is retryable (credentials can be fixed), not a dead letter.
        guard case .retryable = await (try CMMSRegistry.makeConnector(bad, http: http)).create(Fixtures.draft()) else { Issue.record("expected retryable"); return }
    }

    @Test func siteIsRequired() throws {
        let http = HTTPClient.test()
        #expect(throws: ConfigError.self) { try CMMSRegistry.makeConnector(Self.settings("http://127.0.0.1:1", ["site": ""]), http: http) }
    }

    /// Field names the connector sends: those the Postman collection shows for work orders, plus
    /// the MXAPIWODETAIL attributes it does not show, each named here.
    @Test func payloadFieldsAreKnownToThePostmanCollectionOrListed() throws {
        let data = try Data(contentsOf: try Fixtures.specFile("maximo-manage.postman_collection.json"))
        let text = String(decoding: data, as: UTF8.self)
        let collection = try JSONValue.parse(data)
        // Work-order request bodies and oslc.select lists in the collection.
        var known = Set<String>()
        func walk(_ v: JSONValue) {
            if let items = v["item"]?.arrayValue { items.forEach(walk) }
            guard let req = v["request"] else { return }
            if let raw = req["body"]?["raw"]?.stringValue, let obj = try? JSONValue.parse(Data(raw.utf8)).objectValue {
                for k in obj.keys { known.insert(k.replacingOccurrences(of: "spi:", with: "").lowercased()) }
            }
            if let url = req["url"]?["raw"]?.stringValue, let sel = url.components(separatedBy: "oslc.select=").dropFirst().first {
                for f in sel.split(separator: "&")[0].split(separator: ",") { known.insert(f.lowercased()) }
            }
        }
        walk(collection)
        #expect(known.isSuperset(of: ["description", "assetnum", "siteid", "orgid", "description_longdescription", "status", "wonum", "workorderid"]))
        #expect(text.contains("\"key\": \"properties\"") || text.contains("\"properties\""))
        #expect(text.contains("apikey"))
        let documentedElsewhere: Set<String> = ["wopriority", "location", "worktype", "externalrefid"]
        let http = HTTPClient.test()
        let c = try #require(try CMMSRegistry.makeConnector(Self.settings("http://127.0.0.1:1", ["worktype": "CM"]), http: http) as? MaximoConnector)
        let payload = c.payload(Fixtures.draft())
        for k in payload.keys {
            #expect(known.contains(k) || documentedElsewhere.contains(k), "\(k) is neither in the Postman collection nor in the documented list")
            #expect(MaximoEmulator.fields[k] != nil, "the emulator does not know \(k)")
        }
        // The emulator accepts every field the collection uses in a work-order body.
        for k in known where !["spi:description"].contains(k) {
            #expect(MaximoEmulator.fields[k] != nil || ["assetid", "moved", "ticketuid", "ticketid"].contains(k), "emulator lacks \(k)")
        }
    }
}
