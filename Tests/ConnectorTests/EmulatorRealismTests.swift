import MillwrightTesting
import Testing
import AsyncHTTPClient
import Emulators
import Foundation
import MillwrightCore
import NIOCore
import NIOHTTP1

/// The emulators' own rules, driven with raw HTTP (no connector): fault modes, preload + paging, tenant
/// data, and the quirks of the real systems. Each rule cites the vendor document it follows, in the
/// emulator's source and in the test's name or message.
@Suite struct EmulatorRealismTests {
    struct Answer {
        var status: Int
        var body: Data
        var headers: HTTPHeaders
        var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func call(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: String? = nil) async throws -> Answer {
        var r = HTTPClientRequest(url: url)
        r.method = method
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        if let body { r.body = .bytes(ByteBuffer(string: body)) }
        let resp = try await HTTPClient.shared.execute(r, timeout: .seconds(10))
        let data = try await resp.body.collect(upTo: 16 << 20)
        return Answer(status: Int(resp.status.code), body: Data(buffer: data), headers: resp.headers)
    }

    static func options(_ change: (inout EmulatorOptions) -> Void) -> EmulatorOptions {
        var o = EmulatorOptions()
        change(&o)
        return o
    }

    static let bearer = [("Authorization", "Bearer t"), ("Content-Type", "application/json")]
    static let maximo = "/maximo/api/os/mxapiwodetail"
    static let maximoHeaders = [("apikey", "k"), ("Content-Type", "application/json")]
    static let basic = [("Authorization", "Basic " + Data("u:p".utf8).base64EncodedString()), ("Content-Type", "application/json")]

    // MARK: - 1. --fail-mode

    @Test func failModeAfterCreatesTheRecordThenAnswers500Or503OrDropsTheConnection() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.failRate = 1; $0.failMode = .after }) { MaximoEmulator.router(state: $0) }
        defer { emu.stop() }
        var statuses: [String] = []
        for i in 0..<3 {
            do {
                let a = try await Self.call(.POST, emu.baseURL + Self.maximo, headers: Self.maximoHeaders, body: #"{"siteid":"BEDFORD","description":"t\#(i)"}"#)
                statuses.append(String(a.status))
            } catch {
                statuses.append("dropped")
            }
        }
        // Every answer was an error, yet every work order exists: applied before the failure.
        #expect(statuses == ["500", "503", "dropped"], "after-apply answers in turn: \(statuses)")
        #expect(await emu.state.all().count == 3, "after-apply failures must have created the record")
    }

    @Test func failModeBeforeNeverCreates() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.failRate = 1; $0.failMode = .before }) { MaximoEmulator.router(state: $0) }
        defer { emu.stop() }
        for i in 0..<4 {
            let a = try await Self.call(.POST, emu.baseURL + Self.maximo, headers: Self.maximoHeaders, body: #"{"siteid":"BEDFORD","description":"t\#(i)"}"#)
            #expect(a.status == 503)
        }
        #expect(await emu.state.all().isEmpty, "before-apply failures create nothing")
    }

    @Test func failModeMixedAppliesHalfTheFailedWritesAndAnswers500Or503() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.failRate = 1; $0.seed = 7 }) { MaximoEmulator.router(state: $0) }
        defer { emu.stop() }
        var codes: Set<Int> = []
        for i in 0..<60 {
            codes.insert(try await Self.call(.POST, emu.baseURL + Self.maximo, headers: Self.maximoHeaders, body: #"{"siteid":"BEDFORD","description":"m\#(i)"}"#).status)
        }
        let created = await emu.state.all().count
        #expect(codes == [500, 503])
        #expect(created > 10 && created < 50, "about half applied: \(created) of 60")
        #expect(EmulatorOptions().failMode == .mixed)
    }

    // MARK: - 2. --preload and paging

    @Test func preloadSpreadsRecordsOverThirtyDays() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 40 }) { MaximoEmulator.router(state: $0) }
        defer { emu.stop() }
        let all = await emu.state.all()
        #expect(all.count == 40)
        let ages = all.map { Date().timeIntervalSince($0.createdAt) / 86_400 }
        #expect(ages.allSatisfy { $0 > 0 && $0 <= 30.01 })
        #expect((ages.max() ?? 0) > 25 && (ages.min() ?? 99) < 2, "spread over the last 30 days")
        #expect(Set(all.compactMap(\.reference)).count == 40 && all.allSatisfy { !($0.reference ?? "").hasPrefix("MW-") })
        // New work orders continue after the preloaded ids.
        let a = try await Self.call(.POST, emu.baseURL + Self.maximo, headers: Self.maximoHeaders, body: #"{"siteid":"BEDFORD","description":"new"}"#)
        #expect(a.status == 201)
        #expect(Set(await emu.state.all().map(\.id)).count == 41)
    }

    /// Pages through `fetch(page)` until it says there is no more; every preloaded id exactly once.
    static func pagesCoverEveryRecordOnce(_ emu: RunningEmulator, sourceLocation: SourceLocation = #_sourceLocation,
                                          _ fetch: (Int) async throws -> (ids: [String], more: Bool)) async throws {
        var seen: [String] = []
        var page = 0
        while true {
            let (ids, more) = try await fetch(page)
            seen += ids
            page += 1
            if !more || page > 50 { break }
        }
        let expected = await emu.state.all().map(\.id)
        #expect(seen.count == expected.count, "every record exactly once across pages (\(seen.count) of \(expected.count))", sourceLocation: sourceLocation)
        #expect(Set(seen) == Set(expected), sourceLocation: sourceLocation)
        #expect(page > 1, "more than one page", sourceLocation: sourceLocation)
    }

    @Test func maintainXCursorPagingPerOpenAPI_limitMax200_nextCursor() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 250 }) { MaintainXEmulator.router(state: $0) }
        defer { emu.stop() }
        var cursor: String?
        try await Self.pagesCoverEveryRecordOnce(emu) { _ in
            let c = cursor.map { "&cursor=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? ""
            let a = try await Self.call(.GET, emu.baseURL + "/v1/workorders?limit=200" + c, headers: Self.bearer)
            cursor = a.json["nextCursor"]?.stringValue
            return ((a.json["workOrders"]?.arrayValue ?? []).compactMap { $0["id"]?.stringOrNumber }, cursor != nil)
        }
        // The default page is 100 (OpenAPI: limit default 100, maximum 200).
        let first = try await Self.call(.GET, emu.baseURL + "/v1/workorders", headers: Self.bearer)
        #expect(first.json["workOrders"]?.arrayValue?.count == 100)
        #expect(try await Self.call(.GET, emu.baseURL + "/v1/workorders?limit=201", headers: Self.bearer).status == 400)
    }

    @Test func upKeepLimitOffsetPaging() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 130 }) { UpKeepEmulator.router(state: $0) }
        defer { emu.stop() }
        let token = try await Self.call(.POST, emu.baseURL + "/api/v2/auth", headers: [("Content-Type", "application/json")], body: #"{"email":"a@b.c","password":"p"}"#)
            .json["result"]?["sessionToken"]?.stringValue ?? ""
        try await Self.pagesCoverEveryRecordOnce(emu) { page in
            let a = try await Self.call(.GET, emu.baseURL + "/api/v2/work-orders?limit=50&offset=\(page * 50)", headers: [("Session-Token", token)])
            let ids = (a.json["results"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            return (ids, ids.count == 50)
        }
        let newest = try await Self.call(.GET, emu.baseURL + "/api/v2/work-orders?limit=2", headers: [("Session-Token", token)]).json["results"]?.arrayValue ?? []
        #expect(newest.count == 2)
        #expect((newest.first?["createdAt"]?.stringValue ?? "") > (newest.last?["createdAt"]?.stringValue ?? ""), "newest first")
    }

    @Test func limblePageLimitPaging() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 45 }) { LimbleEmulator.router(state: $0) }
        defer { emu.stop() }
        try await Self.pagesCoverEveryRecordOnce(emu) { page in
            let a = try await Self.call(.GET, emu.baseURL + "/v2/tasks?limit=20&page=\(page + 1)", headers: Self.basic)
            let ids = (a.json.arrayValue ?? []).compactMap { $0["taskID"]?.stringOrNumber }
            return (ids, ids.count == 20)
        }
    }

    @Test func maximoPageSizePagenoAndResponseInfoNextPage() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 55 }) { MaximoEmulator.router(state: $0) }
        defer { emu.stop() }
        let h = [("apikey", "k")]
        var next: String? = "/maximo/api/os/mxapiwodetail?oslc.pageSize=20&oslc.orderBy=-reportdate&collectioncount=1"
        var dates: [String] = []
        try await Self.pagesCoverEveryRecordOnce(emu) { _ in
            let a = try await Self.call(.GET, emu.baseURL + next!, headers: h)
            next = a.json["responseInfo"]?["nextPage"]?["href"]?.stringValue
            #expect(a.json["responseInfo"]?["totalPages"]?.doubleValue == 3)
            let members = a.json["member"]?.arrayValue ?? []
            dates += members.compactMap { $0["reportdate"]?.stringValue }
            return (members.compactMap { $0["workorderid"]?.stringOrNumber }, next != nil)
        }
        #expect(dates == dates.sorted(by: >), "oslc.orderBy=-reportdate: newest first")
    }

    @Test func oracleLimitOffsetHasMoreDefault25() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 60 }) { OracleMaintenanceEmulator.router(state: $0) }
        defer { emu.stop() }
        let base = emu.baseURL + "/fscmRestApi/resources/11.13.18.05/maintenanceWorkOrders"
        let first = try await Self.call(.GET, base, headers: Self.basic)
        #expect(first.json["count"]?.doubleValue == 25, "Oracle: limit defaults to 25")
        #expect(first.json["hasMore"]?.boolValue == true)
        try await Self.pagesCoverEveryRecordOnce(emu) { page in
            let a = try await Self.call(.GET, base + "?limit=25&offset=\(page * 25)&totalResults=true", headers: Self.basic)
            #expect(a.json["totalResults"]?.doubleValue == 60)
            return ((a.json["items"]?.arrayValue ?? []).compactMap { $0["WorkOrderId"]?.stringOrNumber }, a.json["hasMore"]?.boolValue == true)
        }
    }

    static func sapSession(_ base: String) async throws -> [(String, String)] {
        let a = try await call(.GET, base + "/sap/opu/odata/sap/API_MAINTNOTIFICATION/", headers: basic + [("x-csrf-token", "Fetch")])
        let token = a.headers["x-csrf-token"].first ?? ""
        let cookie = (a.headers["set-cookie"].first ?? "").split(separator: ";").first.map(String.init) ?? ""
        return basic + [("x-csrf-token", token), ("Cookie", cookie)]
    }

    @Test func sapODataTopSkipInlinecount() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 35 }) { SAPPMEmulator.router(state: $0) }
        defer { emu.stop() }
        let set = emu.baseURL + "/sap/opu/odata/sap/API_MAINTNOTIFICATION/MaintenanceNotification"
        try await Self.pagesCoverEveryRecordOnce(emu) { page in
            let a = try await Self.call(.GET, set + "?$top=10&$skip=\(page * 10)&$inlinecount=allpages&$orderby=CreationDate%20desc", headers: Self.basic)
            #expect(a.json["d"]?["__count"]?.stringValue == "35", "OData V2 $inlinecount=allpages: __count")
            let ids = (a.json["d"]?["results"]?.arrayValue ?? []).compactMap { $0["MaintenanceNotification"]?.stringValue }
            return (ids, (page + 1) * 10 < 35)
        }
    }

    static func fiixCall(_ base: String, _ body: String, secret: String = FiixEmulator.defaultSecret, timestamp: Int64? = nil) async throws -> Answer {
        let ts = timestamp ?? Int64(Date().timeIntervalSince1970 * 1000)
        let host = base.replacingOccurrences(of: "http://", with: "")
        let query = "/api/?service=cmms&appKey=app&accessKey=acc&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=\(ts)"
        let sig = FiixEmulator.signature(signedURL: host + query, secret: secret)
        return try await call(.POST, base + query, headers: [("Authorization", sig), ("Content-Type", "text/plain")], body: body)
    }

    @Test func fiixFindRequestMaxObjectsStartObjectCount() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 33 }) { FiixEmulator.router(state: $0) }
        defer { emu.stop() }
        try await Self.pagesCoverEveryRecordOnce(emu) { page in
            let a = try await Self.fiixCall(emu.baseURL, #"{"_maCn":"FindRequest","className":"WorkOrder","fields":"id,strCode","maxObjects":10,"startObjectCount":\#(page * 10)}"#)
            let ids = (a.json["objects"]?.arrayValue ?? []).compactMap { $0["id"]?.stringOrNumber }
            return (ids, ids.count == 10)
        }
    }

    // MARK: - 3. Tenant data

    static let tenantYAML = """
    # a small tenant
    assets:
      - id: CV-100
        number: 3301
        name: Main conveyor   # inline comment
        functional_location: PLANT-A-L1-CV
      - PMP-7
    functional_locations: [PLANT-A-L2]
    categories: [Mechanical, "Electrical"]
    priorities: ["1", "2", "3"]
    users:
      - id: ortiz@plant.example
        number: 4711
      - JLEE
    statuses: [WAPPR, APPR, INPRG, COMP, CLOSE, CAN]
    """

    @Test func tenantFileParses() throws {
        let t = try TenantData.parse(yaml: Self.tenantYAML, file: "t.yaml")
        #expect(t.assets == [TenantData.Entry(id: "CV-100", number: 3301, name: "Main conveyor", functionalLocation: "PLANT-A-L1-CV"), TenantData.Entry(id: "PMP-7")])
        #expect(t.functionalLocations == ["PLANT-A-L2"])
        #expect(t.categories == ["Mechanical", "Electrical"])
        #expect(t.priorities == ["1", "2", "3"])
        #expect(t.users.map(\.id) == ["ortiz@plant.example", "JLEE"] && t.users.first?.number == 4711)
        #expect(t.knowsFunctionalLocation("PLANT-A-L1-CV") && t.knowsFunctionalLocation("PLANT-A-L2") && !t.knowsFunctionalLocation("X"))
        #expect(throws: FieldProblem.self) { try TenantData.parse(yaml: "asets:\n  - X\n", file: "t.yaml") }
        #expect(throws: FieldProblem.self) { try TenantData.parse(yaml: "assets:\n  - id: X\n    colour: red\n", file: "t.yaml") }
        #expect(throws: FieldProblem.self) { try TenantData.parse(yaml: "users: [a\n", file: "t.yaml") }
        // The example committed for the docs parses too.
        let example = PackagePaths.fixtures.appendingPathComponent("tenants/example.yaml")
        let e = try TenantData.parse(yaml: String(contentsOf: example, encoding: .utf8), file: example.path)
        #expect(!e.assets.isEmpty && !e.priorities.isEmpty)
    }

    @Test func tenantFromAssetRegister() throws {
        let reg = try AssetRegister.parse(csv: "asset_id,name,functional_location\n10004712,C2 head pulley,1010-C2-HP\n10004713,C2 tail,\n", file: "a.csv")
        let t = TenantData.from(register: reg)
        #expect(t.assets.map(\.id) == ["10004712", "10004713"])
        #expect(t.functionalLocations == ["1010-C2-HP"])
        #expect(t.knowsAsset("10004712") && !t.knowsAsset("999") && t.knowsUser("anyone"))
    }

    static var tenant: TenantData { try! TenantData.parse(yaml: tenantYAML, file: "t.yaml") }

    @Test func sapUnknownEquipmentIsSAPsODataError_EquipmentDoesNotExist() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.tenant = Self.tenant }) { SAPPMEmulator.router(state: $0) }
        defer { emu.stop() }
        let h = try await Self.sapSession(emu.baseURL)
        let set = emu.baseURL + "/sap/opu/odata/sap/API_MAINTNOTIFICATION/MaintenanceNotification"
        let bad = try await Self.call(.POST, set, headers: h, body: #"{"NotificationText":"t","TechnicalObject":"NOPE-1","TechObjIsEquipOrFuncnlLoc":"EAMS_EQUI"}"#)
        #expect(bad.status == 400)
        #expect(bad.json["error"]?["message"]?["value"]?.stringValue == "Equipment NOPE-1 does not exist")
        let fl = try await Self.call(.POST, set, headers: h, body: #"{"NotificationText":"t","TechnicalObject":"NOPE-FL","TechObjIsEquipOrFuncnlLoc":"EAMS_FL"}"#)
        #expect(fl.json["error"]?["message"]?["value"]?.stringValue == "Functional location NOPE-FL does not exist")
        // The priority table is the tenant's: 4 is not in it here, 3 is.
        let p4 = try await Self.call(.POST, set, headers: h, body: #"{"NotificationText":"t","MaintPriority":"4"}"#)
        #expect(p4.status == 400 && p4.json["error"]?["code"]?.stringValue == "IM/124")
        let ok = try await Self.call(.POST, set, headers: h, body: #"{"NotificationText":"t","TechnicalObject":"CV-100","TechObjIsEquipOrFuncnlLoc":"EAMS_EQUI","MaintPriority":"3"}"#)
        #expect(ok.status == 201)
        #expect(await emu.state.all().count == 1)
    }

    @Test func sapWithoutTenantStaysPermissive() async throws {
        let emu = try await RunningEmulator.start { SAPPMEmulator.router(state: $0) }
        defer { emu.stop() }
        let h = try await Self.sapSession(emu.baseURL)
        let a = try await Self.call(.POST, emu.baseURL + "/sap/opu/odata/sap/API_MAINTNOTIFICATION/MaintenanceNotification", headers: h,
                                    body: #"{"NotificationText":"t","TechnicalObject":"ANY-THING","TechObjIsEquipOrFuncnlLoc":"EAMS_EQUI"}"#)
        #expect(a.status == 201)
    }

    @Test func maximoUnknownAssetIsMaximoErrorObject_BMXAA() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.tenant = Self.tenant }) { MaximoEmulator.router(state: $0) }
        defer { emu.stop() }
        let url = emu.baseURL + "/maximo/api/os/mxapiwodetail"
        let h = [("apikey", "k"), ("Content-Type", "application/json")]
        let bad = try await Self.call(.POST, url, headers: h, body: #"{"siteid":"BEDFORD","description":"t","assetnum":"NOPE"}"#)
        #expect(bad.status == 400)
        #expect(bad.json["Error"]?["reasonCode"]?.stringValue?.hasPrefix("BMXAA") == true)
        #expect(bad.json["Error"]?["message"]?.stringValue?.contains("Asset NOPE is not a valid asset") == true)
        let person = try await Self.call(.POST, url, headers: h, body: #"{"siteid":"BEDFORD","description":"t","owner":"NOBODY"}"#)
        #expect(person.status == 400 && person.json["Error"]?["message"]?.stringValue?.contains("NOBODY") == true)
        #expect(try await Self.call(.POST, url, headers: h, body: #"{"siteid":"BEDFORD","description":"t","assetnum":"CV-100","owner":"JLEE"}"#).status == 201)
    }

    @Test func maintainXUpKeepLimbleUnknownAssetAreTheir400Shapes() async throws {
        let t = Self.tenant
        let mx = try await RunningEmulator.start(options: Self.options { $0.tenant = t }) { MaintainXEmulator.router(state: $0) }
        defer { mx.stop() }
        let a = try await Self.call(.POST, mx.baseURL + "/v1/workorders", headers: Self.bearer, body: #"{"title":"t","assetId":999}"#)
        #expect(a.status == 400 && a.json["errors"]?.arrayValue?.first?["fieldPath"]?.stringValue == "assetId", "MaintainX OpenAPI 400: errors[].fieldPath")
        let cat = try await Self.call(.POST, mx.baseURL + "/v1/workorders", headers: Self.bearer, body: #"{"title":"t","categories":["Plumbing"]}"#)
        #expect(cat.status == 400)
        #expect(try await Self.call(.POST, mx.baseURL + "/v1/workorders", headers: Self.bearer, body: #"{"title":"t","assetId":3301,"assignees":[{"type":"USER","id":4711}]}"#).status == 200)

        let up = try await RunningEmulator.start(options: Self.options { $0.tenant = t }) { UpKeepEmulator.router(state: $0) }
        defer { up.stop() }
        let token = try await Self.call(.POST, up.baseURL + "/api/v2/auth", headers: [("Content-Type", "application/json")], body: #"{"email":"a@b.c","password":"p"}"#)
            .json["result"]?["sessionToken"]?.stringValue ?? ""
        let u = try await Self.call(.POST, up.baseURL + "/api/v2/work-orders", headers: [("Session-Token", token), ("Content-Type", "application/json")], body: #"{"title":"t","asset":"NOPE"}"#)
        #expect(u.status == 400 && u.json["success"]?.boolValue == false && u.json["message"]?.stringValue?.contains("NOPE") == true, "UpKeep 400 {success:false,message}")

        let lb = try await RunningEmulator.start(options: Self.options { $0.tenant = t }) { LimbleEmulator.router(state: $0) }
        defer { lb.stop() }
        let l = try await Self.call(.POST, lb.baseURL + "/v2/tasks", headers: Self.basic, body: #"{"name":"t","locationID":1,"due":1,"type":2,"assetID":999}"#)
        #expect(l.status == 400 && l.json["message"]?.stringValue?.contains("999") == true, "Limble 400 {message}")
        #expect(await mx.state.all().count == 1)
        #expect(await up.state.all().isEmpty)
        #expect(await lb.state.all().isEmpty)
    }

    @Test func preloadWithTenantNamesTheTenantsAssets() async throws {
        let emu = try await RunningEmulator.start(options: Self.options { $0.preload = 10; $0.tenant = Self.tenant }) { MaintainXEmulator.router(state: $0) }
        defer { emu.stop() }
        let all = await emu.state.all()
        #expect(all.count == 10)
        #expect(all.allSatisfy { Self.tenant.knowsAsset(number: Double($0.asset ?? "") ?? -1) }, "\(all.map(\.asset))")
    }

    @Test func oracleHxGNFiixUnknownTenantDataAreTheirErrors() async throws {
        let t = Self.tenant
        let ora = try await RunningEmulator.start(options: Self.options { $0.tenant = t }) { OracleMaintenanceEmulator.router(state: $0) }
        defer { ora.stop() }
        let o = try await Self.call(.POST, ora.baseURL + "/fscmRestApi/resources/11.13.18.05/maintenanceWorkOrders", headers: Self.basic,
                                    body: #"{"OrganizationCode":"M1","WorkOrderDescription":"t","AssetNumber":"NOPE"}"#)
        #expect(o.status == 400 && o.text.contains("NOPE"), "Oracle: plain-text 400")

        let hx = try await RunningEmulator.start(options: Self.options { $0.tenant = t }) { HxGNEAMEmulator.router(state: $0) }
        defer { hx.stop() }
        let h = try await Self.call(.POST, hx.baseURL + "/axis/restservices/workorders", headers: Self.basic + [("tenant", "T"), ("organization", "O")],
                                    body: #"{"WORKORDERID":{"JOBNUM":"MW-1","ORGANIZATIONID":{"ORGANIZATIONCODE":"O"},"DESCRIPTION":"t"},"EQUIPMENTID":{"EQUIPMENTCODE":"NOPE"}}"#)
        #expect(h.status == 400 && h.json["ErrorAlert"]?.arrayValue?.first?["Message"]?.stringValue?.contains("NOPE") == true, "HxGN: ErrorAlert")

        let fx = try await RunningEmulator.start(options: Self.options { $0.tenant = t }) { FiixEmulator.router(state: $0) }
        defer { fx.stop() }
        let wo = try await Self.fiixCall(fx.baseURL, #"{"_maCn":"AddRequest","className":"WorkOrder","object":{"className":"WorkOrder","strDescription":"t","intSiteID":1}}"#)
        let id = wo.json["object"]?["id"]?.stringOrNumber ?? "0"
        let bad = try await Self.fiixCall(fx.baseURL, #"{"_maCn":"AddRequest","className":"WorkOrderAsset","object":{"className":"WorkOrderAsset","intWorkOrderID":\#(id),"intAssetID":999}}"#)
        #expect(bad.json["error"]?["message"]?.stringValue?.contains("999") == true, "Fiix: error object")
        let good = try await Self.fiixCall(fx.baseURL, #"{"_maCn":"AddRequest","className":"WorkOrderAsset","object":{"className":"WorkOrderAsset","intWorkOrderID":\#(id),"intAssetID":3301}}"#)
        #expect(good.json["error"] == nil, "\(good.text)")
    }

    // MARK: - 4. Quirks

    @Test func maximoTransactionIdForgottenAfterTTL_OSLCTXNCronTask() async throws {
        let h = [("apikey", "k"), ("Content-Type", "application/json"), ("transactionid", "tx-1")]
        let body = #"{"siteid":"BEDFORD","description":"t"}"#
        // Default TTL (IBM's 5 minutes): a repeat is 409.
        #expect(EmulatorOptions().transactionTTL == 300, "IBM's default: 5 minutes")
        let kept = try await RunningEmulator.start { MaximoEmulator.router(state: $0) }
        defer { kept.stop() }
        #expect(try await Self.call(.POST, kept.baseURL + Self.maximo, headers: h, body: body).status == 201)
        #expect(try await Self.call(.POST, kept.baseURL + Self.maximo, headers: h, body: body).status == 409, "repeat within the TTL")
        // A short TTL: after it the OSLCTXN purge has forgotten the id, and the same id creates again.
        let purged = try await RunningEmulator.start(options: Self.options { $0.transactionTTL = 0.3 }) { MaximoEmulator.router(state: $0) }
        defer { purged.stop() }
        #expect(try await Self.call(.POST, purged.baseURL + Self.maximo, headers: h, body: body).status == 201)
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await Self.call(.POST, purged.baseURL + Self.maximo, headers: h, body: body).status == 201, "after the OSLCTXN purge the same id is new again")
        #expect(await purged.state.all().count == 2)
    }

    @Test func maximoGLAccountAcceptedByDefaultAndAttributesConfigurable() async throws {
        let emu = try await RunningEmulator.start { MaximoEmulator.router(state: $0) }
        defer { emu.stop() }
        let h = [("apikey", "k"), ("Content-Type", "application/json")]
        #expect(try await Self.call(.POST, emu.baseURL + "/maximo/api/os/mxapiwodetail", headers: h, body: #"{"siteid":"BEDFORD","description":"t","glaccount":"6000-200-350"}"#).status == 201)
        let narrow = try await RunningEmulator.start(options: Self.options { $0.attributes = ["siteid", "description"] }) { MaximoEmulator.router(state: $0) }
        defer { narrow.stop() }
        let r = try await Self.call(.POST, narrow.baseURL + "/maximo/api/os/mxapiwodetail", headers: h, body: #"{"siteid":"BEDFORD","description":"t","glaccount":"6000"}"#)
        #expect(r.status == 400 && r.json["Error"]?["reasonCode"]?.stringValue == "BMXAA8863E")
    }

    @Test func oracleAcceptsApplicationJSONAsDocumentedSupportedMediaType() async throws {
        let emu = try await RunningEmulator.start { OracleMaintenanceEmulator.router(state: $0) }
        defer { emu.stop() }
        let url = emu.baseURL + "/fscmRestApi/resources/11.13.18.05/maintenanceWorkOrders"
        let a = try await Self.call(.POST, url, headers: Self.basic, body: #"{"OrganizationCode":"M1","WorkOrderDescription":"t"}"#)
        #expect(a.status == 201)
        let xml = try await Self.call(.POST, url, headers: [Self.basic[0], ("Content-Type", "application/xml")], body: "<x/>")
        #expect(xml.status == 415)
    }

    @Test func sapRoutesMaintenanceOrderVersion0002() async throws {
        let emu = try await RunningEmulator.start { SAPPMEmulator.router(state: $0) }
        defer { emu.stop() }
        let h = try await Self.sapSession(emu.baseURL)
        for v in ["API_MAINTENANCEORDER;v=0002", "API_MAINTENANCEORDER;v=0001", "API_MAINTENANCEORDER"] {
            let a = try await Self.call(.POST, emu.baseURL + "/sap/opu/odata/sap/\(v)/MaintenanceOrder", headers: h,
                                        body: #"{"MaintenanceOrderType":"PM01","MaintenanceOrderDesc":"t"}"#)
            #expect(a.status == 201, "\(v): \(a.text)")
        }
        let meta = try await Self.call(.GET, emu.baseURL + "/sap/opu/odata/sap/API_MAINTENANCEORDER;v=0002/$metadata", headers: Self.basic)
        #expect(meta.status == 200)
        let v9 = try await Self.call(.GET, emu.baseURL + "/sap/opu/odata/sap/API_MAINTENANCEORDER;v=0009/", headers: Self.basic)
        #expect(v9.status == 404)
    }

    @Test func fiixAlwaysVerifiesSignatureAndRefusesStaleTimestamp() async throws {
        let emu = try await RunningEmulator.start { FiixEmulator.router(state: $0) }
        defer { emu.stop() }
        let find = #"{"_maCn":"FindRequest","className":"Priority"}"#
        #expect(try await Self.fiixCall(emu.baseURL, find).json["objects"]?.arrayValue?.isEmpty == false)
        let wrong = try await Self.fiixCall(emu.baseURL, find, secret: "not-the-secret")
        #expect(wrong.json["error"]?["code"]?.doubleValue == 401, "signature verified even without --credentials")
        let stale = try await Self.fiixCall(emu.baseURL, find, timestamp: Int64((Date().timeIntervalSince1970 - 6 * 60) * 1000))
        #expect(stale.json["error"]?["code"]?.doubleValue == 401, "timestamp more than 5 minutes off is refused")
        #expect(stale.json["error"]?["message"]?.stringValue?.contains("timestamp") == true)
    }

    @Test func maintainXAcceptsPropertiesTheOpenAPIDoesNotForbid_noAdditionalPropertiesFalse() async throws {
        let schema = MaintainXEmulator.schema(from: Fixtures.specs)
        #expect(schema.additionalProperties, "maintainx-openapi.json POST /workorders sets no additionalProperties: false")
        let emu = try await RunningEmulator.start { MaintainXEmulator.router(state: $0, schema: schema, limit: 1000, window: 60) }
        defer { emu.stop() }
        let a = try await Self.call(.POST, emu.baseURL + "/v1/workorders", headers: Self.bearer, body: #"{"title":"t","someNewField":1}"#)
        #expect(a.status == 200, "\(a.text)")
        var closed = schema
        closed.additionalProperties = false
        #expect(closed.validate(["title": .string("t"), "foo": .number(1)]).contains { $0.1 == "\"foo\" is not allowed" })
    }
}
