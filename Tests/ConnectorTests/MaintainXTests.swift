import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// The MaintainX connector against the MaintainX emulator (OpenAPI-validated, rate limited).
@Suite(.serialized) struct MaintainXTests {
    static func settings(_ url: String, _ extra: [String: String] = [:]) -> TestCMMS {
        var s = TestCMMS(name: "mx", kind: "maintainx", baseURL: url + "/v1")
        s.auth = .bearer(token: "tok")
        s.options = ["organization_id": "1"].merging(extra) { $1 }
        return s
    }

    static func start(_ options: EmulatorOptions = EmulatorOptions(), limit: Int = 1000, window: TimeInterval = 60) async throws -> RunningEmulator {
        let schema = MaintainXEmulator.schema(from: Fixtures.specs)
        return try await RunningEmulator.start(options: options) { MaintainXEmulator.router(state: $0, schema: schema, limit: limit, window: window) }
    }

    func technician(_ emu: RunningEmulator, _ id: String, _ status: String) async throws {
        let http = HTTPClient.test()
        let r = try await HTTPTransport(client: http, timeout: .seconds(5)).send(.PATCH, emu.baseURL + "/v1/workorders/\(id)/status",
            headers: [("Authorization", "Bearer tech"), ("Content-Type", "application/json")], body: Data(#"{"status":"\#(status)"}"#.utf8))
        #expect(r.status == 200)
    }

    @Test func createsWorkOrderWithAttachmentAndReadsStatusBack() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let opts = ["reference_field": "Millwright Reference", "location_map.LINE2": "7", "categories": "Vision"]
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, opts), http: http)
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        let body = try #require(await emu.state.find(id: id)?.body.objectValue)
        #expect(body["title"]?.stringValue == "Crack at C2 head pulley")
        #expect(body["priority"]?.stringValue == "HIGH")
        #expect(body["type"]?.stringValue == "REACTIVE")
        #expect(body["assetId"]?.doubleValue == 10004712)
        #expect(body["locationId"]?.doubleValue == 7)
        #expect(body["externalData"]?["millwrightReference"]?.stringValue == "MW-ABCDEF123456")
        #expect(body["extraFields"]?["Millwright Reference"]?.stringValue == "MW-ABCDEF123456")

        #expect(await c.attach(cmmsId: id, filename: "MW-ABCDEF123456.jpg", jpeg: Fixtures.jpeg))
        #expect(await emu.state.find(id: id)?.attachments == ["MW-ABCDEF123456.jpg"])
        #expect(await c.lookup(reference: "MW-ABCDEF123456") == .lookupFound(cmmsId: id))
        #expect(await c.lookup(reference: "MW-NOSUCHTHING1") == .lookupNotFound)
        // Without a custom field, the lookup compares externalData.
        let plain = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        #expect(await plain.lookup(reference: "MW-ABCDEF123456") == .lookupFound(cmmsId: id))
        #expect(await c.addNote(cmmsId: id, text: "3 more detections"))
        #expect(await emu.state.find(id: id)?.notes == ["3 more detections"])

        #expect(try await c.status(cmmsId: id) == .open)
        for (s, expected) in [("IN_PROGRESS", CMMSStatus.inProgress), ("ON_HOLD", .open), ("DONE", .completed), ("CANCELED", .cancelled)] {
            try await technician(emu, id, s)
            #expect(try await c.status(cmmsId: id) == expected, "\(s)")
        }
        try await technician(emu, id, "DONE")
        let fp = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["false_positive_category": "Vision"]), http: http)
        #expect(try await fp.status(cmmsId: id) == .falsePositive)
    }

    @Test func retriesThroughInjectedFaultsWithoutDuplicates() async throws {
        var o = EmulatorOptions()
        o.failRate = 0.4
        o.seed = 3
        let emu = try await Self.start(o)
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["reference_field": "Millwright Reference"]), http: http)
        let refs = (1...6).map { String(format: "MW-MXX%09d", $0) }
        await Dispatch.deliverEachExactlyOnce(c, emu, refs)
    }

    /// #11.2: a busy organisation has more than one page of work orders in the lookup window;
    /// the lookup follows `nextCursor` to the end instead of answering "not found" after 200.
    @Test func theLookupReadsEveryPageOfTheWindow() async throws {
        let emu = try await Self.start(limit: 100_000)
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["reference_field": "Millwright Reference"]), http: HTTPClient.test())
        guard case .created(let id) = await c.create(Fixtures.draft(reference: "MW-MXOLDEST0001")) else { Issue.record("not created"); return }
        for i in 0..<250 {
            guard case .created = await c.create(Fixtures.draft(reference: String(format: "MW-MXNEWER%05d", i))) else { Issue.record("filler \(i)"); return }
        }
        #expect(await c.lookup(reference: "MW-MXOLDEST0001") == .lookupFound(cmmsId: id))
        #expect(await c.lookup(reference: "MW-MXNOTTHERE01") == .lookupNotFound)
    }

    @Test func rateLimitMakesTheDispatcherWaitInsteadOfFailing() async throws {
        let emu = try await Self.start(limit: 3, window: 5)
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        for i in 1...3 { guard case .created = await c.create(Fixtures.draft(reference: "MW-RATE0000000\(i)")) else { Issue.record("create \(i)"); return } }
        // Remaining hit 0: the connector holds back without calling MaintainX.
        let before = await emu.state.requests
        guard case .retryable(let msg, let after?) = await c.create(Fixtures.draft(reference: "MW-RATE00000004")) else { Issue.record("expected retryable"); return }
        #expect(msg.contains("rate limit"))
        #expect(after > .zero && after <= .seconds(5))
        #expect(await emu.state.requests == before)
        // A second gateway node that has not seen the headers gets MaintainX's 429 + Retry-After.
        let other = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http)
        guard case .retryable(_, let retry?) = await other.create(Fixtures.draft(reference: "MW-RATE00000004")) else { Issue.record("expected 429 → retryable"); return }
        #expect(retry > .zero && retry <= .seconds(5))
        // Honouring the delay, the dispatcher delivers everything.
        for ref in ["MW-RATE00000004", "MW-RATE00000005", "MW-RATE00000006", "MW-RATE00000007"] {
            var done = false
            for _ in 0..<30 where !done {
                switch await c.create(Fixtures.draft(reference: ref)) {
                case .created: done = true
                case .retryable(_, let d): try await Task.sleep(for: d ?? .milliseconds(200))
                case let o: Issue.record("\(ref): \(o)"); return
                }
            }
            #expect(done, "\(ref)")
        }
        #expect(await emu.state.all().count == 7)
    }

    @Test func validationErrorIsPermanentWithFieldPath() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["reference_field": "External Ref"]), http: http)
        guard case .permanent(let msg) = await c.create(Fixtures.draft()) else { Issue.record("expected permanent"); return }
        #expect(msg.contains("extraFields.External Ref"))
        #expect(msg.contains("does not exist"))
        let t = HTTPTransport(client: http, timeout: .seconds(5))
        let h = [("Authorization", "Bearer x"), ("Content-Type", "application/json")]
        // An unknown property is accepted: the OpenAPI body schema does not set additionalProperties: false
        // (EmulatorRealismTests.maintainXAcceptsPropertiesTheOpenAPIDoesNotForbid…).
        for (body, expected) in [(#"{"title":"t","assetId":"C2"}"#, "\"assetId\" must be of type integer"),
                                 (#"{"title":"t","priority":"URGENT"}"#, "must be one of [NONE, LOW, MEDIUM, HIGH]"), (#"{"description":"d"}"#, "\"title\" is required")] {
            let r = try await t.send(.POST, emu.baseURL + "/v1/workorders", headers: h, body: Data(body.utf8))
            #expect(r.status == 400)
            #expect(MaintainXConnector.describe(r).contains(expected), "\(body): \(MaintainXConnector.describe(r))")
        }
        #expect(await emu.state.all().isEmpty)
    }

    @Test func checkConnectionAndConfiguration() async throws {
        var o = EmulatorOptions()
        o.credentials = ["tok"]
        let emu = try await Self.start(o)
        defer { emu.stop() }
        let http = HTTPClient.test()
        let ok = try await CMMSRegistry.makeConnector(Self.settings(emu.baseURL), http: http).checkConnection()
        let allOK = ok.allSatisfy { $0.ok }
        #expect(allOK && ok.count == 3, "\(ok)")
        #expect(ok[0].detail.contains("rate limit 1000"))
        var bad = Self.settings(emu.baseURL)
        bad.auth = .bearer(token: "nope")
        let failed = try await CMMSRegistry.makeConnector(bad, http: http).checkConnection()
        #expect(failed.count == 1 && !failed[0].ok && failed[0].fix?.contains("API Keys") == true)
        var basic = Self.settings(emu.baseURL)
        basic.auth = .basic(user: "u", password: "p")
        #expect(throws: ConnectorError.self) { try CMMSRegistry.makeConnector(basic, http: http) }
        #expect(throws: ConnectorError.self) { try CMMSRegistry.makeConnector(Self.settings(emu.baseURL, ["priority_map.critical": "URGENT"]), http: http) }
    }

    @Test func payloadConformsToTheOpenAPISchema() throws {
        let schema = try OpenAPIBody.load(try Fixtures.specFile("maintainx-openapi.json"), path: "/workorders", method: "post")
        #expect(schema.required == ["title"])
        #expect(schema.properties["priority"]?.enumValues == MaintainXConnector.priorities)
        let http = HTTPClient.test()
        for opts in [[:], ["reference_field": "Millwright Reference", "categories": "Vision, Safety", "template_id": "12", "location_id": "3"]] {
            let c = try #require(try CMMSRegistry.makeConnector(Self.settings("http://127.0.0.1:1", opts), http: http) as? MaintainXConnector)
            for p in Priority.allCases {
                let payload = c.payload(Fixtures.draft(priority: p))
                let problems = schema.validate(payload)
                #expect(problems.isEmpty, "\(problems)")
            }
        }
        // The built-in table `millwright emulate` validates against is the file's schema, property for property.
        let builtIn = MaintainXEmulator.schema()
        #expect(builtIn.source == "embedded")
        #expect(builtIn.required == schema.required)
        #expect(builtIn.properties.keys.sorted() == schema.properties.keys.sorted())
        for (name, real) in schema.properties { #expect(builtIn.properties[name] == real, "\(name)") }
        #expect(MaintainXEmulator.schema(from: Fixtures.specs).source.hasSuffix("maintainx-openapi.json"))
    }
}
