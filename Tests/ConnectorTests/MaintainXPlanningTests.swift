import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// MaintainX as a planning source: stock from `GET /v1/parts`, technicians' open work from
/// `GET /v1/workorders`, against the emulator and the OpenAPI.
@Suite(.serialized) struct MaintainXPlanningTests {
    typealias Part = MaintainXEmulator.Part
    typealias User = MaintainXEmulator.User

    static let parts = [
        Part(id: 1, name: "PUL-500-HD", barcode: "4006381333931", inStock: 3, reserved: 1, area: "store B-12", locationId: 852,
             extraFields: ["Part Number": "10-4471"]),
        // Kitted and staged parts are still in stock but promised to a work order.
        Part(id: 2, name: "BOLT-M10-80", barcode: "4006381333948", inStock: 40, reserved: 2, kitted: 5, staged: 1, area: "store A-03", locationId: 852,
             extraFields: ["Part Number": "10-0080"]),
        Part(id: 3, name: "BELT-C2-1200", inStock: 0, locationId: 853),
        Part(id: 4, name: "FILTER-9", inStock: 4, reserved: 1, locationId: 854),
        Part(id: 5, name: "FILTER-9", barcode: "4006381333955", inStock: 2, area: "line 2 cabinet", locationId: 855),
    ]

    static let users = [
        User(id: 4711, firstName: "A.", lastName: "Ortiz", email: "ortiz@plant.example"),
        User(id: 4712, firstName: "J.", lastName: "Lee", email: "Lee@Plant.example"),
        User(id: 4713, firstName: "K.", lastName: "Novak", email: "novak@plant.example"),
    ]

    static func start(_ options: EmulatorOptions = EmulatorOptions(), limit: Int = 1000, window: TimeInterval = 60, pageSize: Int? = 2) async throws -> RunningEmulator {
        let schema = MaintainXEmulator.schema(from: Fixtures.specs)
        let seed = MaintainXEmulator.Seed(parts: parts, users: users, maxPageSize: pageSize)
        return try await RunningEmulator.start(options: options) { MaintainXEmulator.router(state: $0, schema: schema, limit: limit, window: window, seed: seed) }
    }

    static func connector(_ emu: RunningEmulator, _ extra: [String: String] = [:], token: String = "tok") throws -> MaintainXConnector {
        var s = MaintainXTests.settings(emu.baseURL, extra)
        s.auth = .bearer(token: token)
        return try #require(try CMMSRegistry.makeConnector(s, http: HTTPClient.test()) as? MaintainXConnector)
    }

    // MARK: Stock

    @Test func inventoryReadsEveryPageAndKeepsCommittedStockOutOfFree() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let items = try await Self.connector(emu).inventory()
        #expect(items == [
            InventoryItem(sku: "PUL-500-HD", onHand: 3, reserved: 1, location: "store B-12"),
            InventoryItem(sku: "BOLT-M10-80", onHand: 40, reserved: 8, location: "store A-03"),
            InventoryItem(sku: "BELT-C2-1200", onHand: 0, reserved: 0, location: "location 853"),
            // Two MaintainX parts with one name are one storeroom line.
            InventoryItem(sku: "FILTER-9", onHand: 6, reserved: 1, location: "location 854"),
        ])
        #expect(items.map(\.available) == [2, 32, 0, 5])
        // Five parts, two a page: three pages, each asked for once.
        #expect(await emu.state.requests == 3)
    }

    @Test func partKeyChoosesBarcodeOrACustomField() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let byBarcode = try await Self.connector(emu, ["part_key": "barcode"]).inventory()
        // Parts without a barcode cannot be matched and are left out.
        #expect(byBarcode.map(\.sku) == ["4006381333931", "4006381333948", "4006381333955"])
        #expect(byBarcode.map(\.available) == [2, 32, 2])
        // Custom fields come only with expand=extra_fields; the connector asks for them.
        let byField = try await Self.connector(emu, ["part_key": "field:Part Number"]).inventory()
        #expect(byField == [InventoryItem(sku: "10-4471", onHand: 3, reserved: 1, location: "store B-12"),
                            InventoryItem(sku: "10-0080", onHand: 40, reserved: 8, location: "store A-03")])
    }

    @Test func aPartKeyTypoFailsAtStartup() throws {
        var s = MaintainXTests.settings("http://127.0.0.1:1")
        for bad in ["sku", "field:", "Barcode"] {
            s.options["part_key"] = bad
            let error = #expect(throws: ConfigError.self) { try CMMSRegistry.makeConnector(s, http: HTTPClient.test()) }
            #expect(error?.key == "maintainx.part_key" && error?.message.contains("field:<custom field label>") == true, "\(String(describing: error))")
        }
    }

    @Test func stockFallsBackToTheDeprecatedTotalsAndNeverGoesNegative() throws {
        let parts = try JSONValue.parse(Data("""
            [{"name": "OLD-1", "availableQuantity": 7, "reservedQuantity": 3, "locations": [{"locationId": 9, "area": "cage"}]},
             {"name": "NEG-1", "inStockQuantity": -2, "committedQuantities": {"reserved": 1}, "area": " ", "locationId": 4, "locations": []},
             {"name": "  ", "inStockQuantity": 5},
             {"barcode": null, "name": "NOLOC", "inStockQuantity": 1}]
            """.utf8)).arrayValue ?? []
        #expect(MaintainXConnector.stock(from: parts, key: .name) == [
            InventoryItem(sku: "OLD-1", onHand: 7, reserved: 3, location: "cage"),
            InventoryItem(sku: "NEG-1", onHand: 0, reserved: 1, location: "location 4"),
            InventoryItem(sku: "NOLOC", onHand: 1, reserved: 0, location: nil),
        ])
        #expect(MaintainXConnector.stock(from: parts, key: .barcode).isEmpty)
    }

    // MARK: Open work

    /// A work order as another MaintainX user would create it, then moved to `status`.
    func workOrder(_ emu: RunningEmulator, _ assignees: String, _ status: String) async throws {
        let t = HTTPTransport(client: HTTPClient.test(), timeout: .seconds(5))
        let h = [("Authorization", "Bearer someone"), ("Content-Type", "application/json")]
        let r = try await t.send(.POST, emu.baseURL + "/v1/workorders", headers: h, body: Data(#"{"title":"Grease bearings","assignees":[\#(assignees)]}"#.utf8))
        let id = try #require(r.json?["id"]?.stringOrNumber, "\(r.text)")
        guard status != "OPEN" else { return }
        let s = try await t.send(.PATCH, emu.baseURL + "/v1/workorders/\(id)/status", headers: h, body: Data(#"{"status":"\#(status)"}"#.utf8))
        #expect(s.status == 200)
    }

    @Test func openWorkCountsOpenStatusesPerMappedUser() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let users = "T-114=4711, T-120=lee@plant.example, T-130=4799, mechanics=team:12, T-150=nobody@plant.example"
        let c = try Self.connector(emu, ["users": users])
        let ortiz = #"{"type":"USER","id":4711}"#, lee = #"{"type":"USER","id":4712}"#
        for (assignees, status) in [
            (ortiz, "OPEN"), (ortiz, "IN_PROGRESS"), (ortiz, "DONE"), (ortiz + "," + lee, "ON_HOLD"),
            (#"{"type":"USER","id":"lee@plant.example"}"#, "OPEN"), (lee, "CANCELED"),
            (#"{"type":"USER","id":4713}"#, "OPEN"), (#"{"type":"TEAM","id":12}"#, "OPEN"),
        ] { try await workOrder(emu, assignees, status) }
        // One Millwright created, assigned through the same map: the CMMS's count includes it.
        var d = Fixtures.draft(reference: "MW-MXLOAD000001")
        d.assignee = "T-114"
        guard case .created = await c.create(d) else { Issue.record("not created"); return }

        // T-130 is known and idle; T-150's e-mail is no MaintainX user; the team and Novak are not technicians here.
        let before = await emu.state.requests
        #expect(try await c.openWorkByTechnician() == ["T-114": 4, "T-120": 2, "T-130": 0])
        // One e-mail look-up, then only the five open orders of mapped users, two a page: MaintainX filters, not we.
        #expect(await emu.state.requests - before == 1 + 3)
    }

    @Test func openWorkNeedsTheUsersMap() async throws {
        let emu = try await Self.start()
        defer { emu.stop() }
        let error = await #expect(throws: ConnectorError.self) { try await Self.connector(emu, ["users": "mechanics=team:12"]).openWorkByTechnician() }
        #expect(String(describing: error).contains("maintainx.users"))
        #expect(await emu.state.requests == 0)
    }

    // MARK: Failures

    @Test func readErrorsNameTheRequestAndWhatToDo() async throws {
        let emu = try await Self.start(.accepting(["tok"]))
        defer { emu.stop() }
        let c = try Self.connector(emu, ["users": "T-114=4711"], token: "expired")
        let stock = await #expect(throws: MaintainXReadError.self) { try await c.inventory() }
        let text = stock.map(String.init(describing:)) ?? ""
        #expect(text.hasPrefix("MaintainX GET /v1/parts: HTTP 401 Invalid token") && text.contains("API Keys"), "\(text)")
        let load = await #expect(throws: MaintainXReadError.self) { try await c.openWorkByTechnician() }
        #expect(load.map(String.init(describing:))?.hasPrefix("MaintainX GET /v1/workorders: HTTP 401") == true)
        var nowhere = MaintainXTests.settings("http://127.0.0.1:1")
        nowhere.timeout = .milliseconds(500)
        let unreachable = try #require(try CMMSRegistry.makeConnector(nowhere, http: HTTPClient.test()) as? MaintainXConnector)
        let refused = await #expect(throws: MaintainXReadError.self) { try await unreachable.inventory() }
        #expect(refused.map(String.init(describing:))?.contains("check base_url http://127.0.0.1:1/v1") == true)
    }

    @Test func rateLimitPausesAreWaitedOutWithinOneReading() async throws {
        let emu = try await Self.start(limit: 2, window: 1)
        defer { emu.stop() }
        // Another client has used up the window: the first page gets 429 + Retry-After.
        let t = HTTPTransport(client: HTTPClient.test(), timeout: .seconds(5))
        for _ in 0..<2 { _ = try await t.send(.GET, emu.baseURL + "/v1/parts", headers: [("Authorization", "Bearer other")]) }
        let items = try await Self.connector(emu).inventory()
        #expect(items.count == 4)
        // 2 other + one 429 + three pages: after the 429 the X-Rate-Limit headers kept the connector from a second one.
        #expect(await emu.state.requests == 6)
    }

    @Test func aRateLimitLongerThanAReadingWaitsFailsThatReading() async throws {
        let emu = try await Self.start(limit: 1, window: 3600)
        defer { emu.stop() }
        let error = await #expect(throws: MaintainXReadError.self) { try await Self.connector(emu).inventory() }
        let text = error.map(String.init(describing:)) ?? ""
        #expect(text.hasPrefix("MaintainX GET /v1/parts: rate limit reached after 1 page(s)"), "\(text)")
        #expect(await emu.state.requests == 1)
    }

    // MARK: The OpenAPI

    @Test func everyFieldReadIsInTheOpenAPIResponses() throws {
        let spec = try MaintainXSpec()
        let parts = try #require(spec.response("/parts"))
        for (field, type) in [("parts[].name", "string"), ("parts[].barcode", "string"), ("parts[].extraFields", "object"),
                              ("parts[].inStockQuantity", "integer"), ("parts[].availableQuantity", "integer"), ("parts[].reservedQuantity", "integer"),
                              ("parts[].committedQuantities.reserved", "integer"), ("parts[].committedQuantities.kitted", "integer"),
                              ("parts[].committedQuantities.staged", "integer"), ("parts[].area", "string"), ("parts[].locationId", "integer"),
                              ("parts[].locations[].area", "string"), ("parts[].locations[].locationId", "integer"), ("nextCursor", "string")] {
            #expect(spec.property(parts, field)?["type"] as? String == type, "GET /parts \(field)")
        }
        // Both stock totals count what is on the shelf; neither is already net of reservations.
        for field in ["parts[].inStockQuantity", "parts[].availableQuantity"] {
            #expect((spec.property(parts, field)?["description"] as? String)?.hasPrefix("Total quantity currently in stock") == true, "\(field)")
        }
        let orders = try #require(spec.response("/workorders"))
        #expect(Set(MaintainXConnector.openStatuses).isSubset(of: spec.property(orders, "workOrders[].status")?["enum"] as? [String] ?? []))
        #expect(spec.property(orders, "workOrders[].assignees[].type")?["enum"] as? [String] == ["USER", "TEAM"])
        #expect(spec.property(orders, "workOrders[].assignees[].id") != nil)
        #expect(spec.property(orders, "nextCursor")?["type"] as? String == "string")
        let people = try #require(spec.response("/users"))
        #expect(spec.property(people, "users[].id")?["type"] as? String == "integer")
        #expect(spec.property(people, "users[].email")?["type"] as? String == "string")

        // The query parameters the connector sends, within their bounds.
        for path in ["/parts", "/workorders", "/users"] {
            #expect(spec.parameter(path, "cursor")?["type"] as? String == "string", "\(path)")
            #expect(spec.parameter(path, "limit")?["maximum"] as? Int == 200, "\(path)")
        }
        #expect((spec.parameter("/parts", "expand")?["items"] as? [String: Any])?["enum"] as? [String] == ["extra_fields", "vendors"])
        #expect(((spec.parameter("/workorders", "expand")?["items"] as? [String: Any])?["enum"] as? [String])?.contains("assignees") == true)
        #expect(Set(MaintainXConnector.openStatuses).isSubset(of: (spec.parameter("/workorders", "statuses")?["items"] as? [String: Any])?["enum"] as? [String] ?? []))
        #expect((spec.parameter("/workorders", "assignees")?["items"] as? [String: Any])?["type"] as? String == "integer")
        #expect(spec.parameter("/users", "email")?["type"] as? String == "array")
    }

    @Test func theEmulatorAnswersPartsAndUsersInTheOpenAPIShape() async throws {
        let spec = try MaintainXSpec()
        let emu = try await Self.start()
        defer { emu.stop() }
        let t = HTTPTransport(client: HTTPClient.test(), timeout: .seconds(5))
        for (path, list) in [("/parts?expand=extra_fields", "parts"), ("/users", "users")] {
            let r = try await t.send(.GET, emu.baseURL + "/v1" + path, headers: [("Authorization", "Bearer tok")])
            let schema = try #require(spec.response(String(path.prefix { $0 != "?" })))
            let item = try #require(spec.property(schema, list + "[]"))
            let allowed = Set((item["properties"] as? [String: Any] ?? [:]).keys)
            let required = Set(item["required"] as? [String] ?? [])
            let answered = try #require(r.json?[list]?.arrayValue)
            #expect(!answered.isEmpty)
            for record in answered {
                let keys = Set((record.objectValue ?? [:]).keys)
                #expect(required.isSubset(of: keys), "\(path) misses \(required.subtracting(keys).sorted())")
                #expect(keys.isSubset(of: allowed), "\(path) answers \(keys.subtracting(allowed).sorted()), not in the OpenAPI")
            }
            #expect(r.json?["nextCursor"]?.stringValue != nil && r.json?["nextPageUrl"]?.stringValue?.hasPrefix("/v1/") == true)
        }
    }
}

/// The parts of `maintainx-openapi.json` these tests read, through Foundation's parser (the file is over a megabyte).
struct MaintainXSpec {
    let root: [String: Any]

    init() throws {
        root = try JSONSerialization.jsonObject(with: Data(contentsOf: try Fixtures.specFile("maintainx-openapi.json"))) as? [String: Any] ?? [:]
    }

    func resolve(_ value: Any?) -> [String: Any]? {
        guard var d = value as? [String: Any] else { return nil }
        while let ref = d["$ref"] as? String, ref.hasPrefix("#/") {
            var cur: Any? = root
            for part in ref.dropFirst(2).split(separator: "/") { cur = (cur as? [String: Any])?[String(part)] }
            guard let next = cur as? [String: Any] else { return nil }
            d = next
        }
        return d
    }

    func operation(_ path: String) -> [String: Any]? { resolve((root["paths"] as? [String: Any])?[path]).flatMap { resolve($0["get"]) } }

    /// The 200 answer's JSON schema of `GET path`.
    func response(_ path: String) -> [String: Any]? {
        let ok = resolve((operation(path)?["responses"] as? [String: Any])?["200"])
        return resolve(((ok?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"])
    }

    /// `a.b[].c`: property `a`, its `b`, that array's items, their `c`.
    func property(_ schema: [String: Any], _ dotted: String) -> [String: Any]? {
        var cur: [String: Any]? = schema
        for step in dotted.split(separator: ".") {
            let isArray = step.hasSuffix("[]")
            cur = resolve((cur?["properties"] as? [String: Any])?[String(isArray ? step.dropLast(2) : step)])
            if isArray { cur = resolve(cur?["items"]) }
        }
        return cur
    }

    /// The schema of query parameter `name` of `GET path`.
    func parameter(_ path: String, _ name: String) -> [String: Any]? {
        let params = (operation(path)?["parameters"] as? [Any] ?? []).compactMap(resolve)
        return resolve(params.first { $0["name"] as? String == name && $0["in"] as? String == "query" }?["schema"])
    }
}
