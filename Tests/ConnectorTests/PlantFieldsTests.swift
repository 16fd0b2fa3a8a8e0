import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// The plant's `title:`, `fields:` and `users` on every connector, against each system's emulator:
/// the title is the rendered template within the system's limit, real fields arrive with their
/// values (typed where the system types them), an unknown field dead-letters with its name, and the
/// technician becomes the record's assignee where the system has one.
@Suite(.serialized) struct PlantFieldsTests {
    /// Long enough to cross every system's title limit once rendered.
    static let longTitle = "{defect} at {asset_name}, zone {zone}, camera {camera}, order {production_order}, shift {shift}, "
        + "detection {detection_id}, reference {reference}, site {site}, priority {priority}"

    struct Case: Sendable, CustomTestStringConvertible {
        var kind: String
        var start: @Sendable () async throws -> RunningEmulator
        var settings: @Sendable (String) -> TestCMMS
        /// Real fields of the system and a check that they arrived.
        var fields: [String: String]
        var arrived: @Sendable (EmulatedWorkOrder) -> Bool
        /// The title as the system stored it, and the system's title length (nil: none).
        var title: @Sendable (EmulatedWorkOrder) -> String
        var titleMax: Int?
        /// The CMMS user `T-114` maps to, and what the emulator then holds as assignee.
        var user: String?
        var assignee: String?
        var bogus: String
        var testDescription: String { kind }
    }

    static func draft(reference: String = "MW-FIELDS000001") -> WorkOrderDraft {
        var d = Fixtures.draft(reference: reference)
        d.assignee = "T-114"
        // The lookups of UpKeep, Fiix and Limble read the reference line the composer always writes.
        d.description += "\nDetection: d1 · Millwright reference \(reference) · site plant-1"
        return d
    }

    static let cases: [Case] = [
        Case(kind: "sandbox", start: { try await RunningEmulator.start { SandboxEmulator.router(state: $0) } },
             settings: { var s = TestCMMS(name: "sb", kind: "sandbox", baseURL: $0); s.auth = .bearer(token: "tok"); return s },
             fields: ["work_type": "CM-{defect}", "cost_center": "{asset}"],
             arrived: { $0.body["work_type"] == .string("CM-crack") && $0.body["cost_center"] == .string("10004712") },
             title: { $0.title }, titleMax: 40, user: "ortiz", assignee: "ortiz", bogus: "bogus_field"),
        Case(kind: "sap-pm", start: { try await SAPPMTests.start() }, settings: { SAPPMTests.settings($0) },
             fields: ["LocationDescription": "{zone} / {camera}", "MaintObjectDowntimeDuration": "1.5"],
             arrived: { $0.body["LocationDescription"] == .string("head-pulley / CAM-07") && $0.body["MaintObjectDowntimeDuration"] == .number(1.5) },
             title: { $0.title }, titleMax: 40, user: "00004711", assignee: "00004711", bogus: "ZZ_MillwrightBogus"),
        Case(kind: "maximo", start: { try await MaximoTests.start() }, settings: { MaximoTests.settings($0) },
             fields: ["WorkType": "CM", "estdur": "1.5", "downtime": "true"],
             arrived: { $0.body["worktype"] == .string("CM") && $0.body["estdur"] == .number(1.5) && $0.body["downtime"] == .bool(true) },
             title: { $0.title }, titleMax: 100, user: "ORTIZ", assignee: "ORTIZ", bogus: "mw_bogus"),
        Case(kind: "maintainx", start: { try await MaintainXTests.start() },
             settings: { MaintainXTests.settings($0, ["reference_field": "Millwright Reference"]) },
             fields: ["extraFields.Defect Class": "{defect}", "estimatedTime": "3600"],
             arrived: { wo in
                 // The plant's custom field joins the reference in the same object.
                 wo.body["extraFields"] == .object(["Defect Class": .string("crack"), "Millwright Reference": .string("MW-FIELDS000001")])
                     && wo.body["estimatedTime"] == .number(3600)
             },
             // An unknown top-level property is accepted (the OpenAPI schema does not forbid additional
             // properties); a custom field the organization does not have is refused.
             title: { $0.title }, titleMax: nil, user: "4711", assignee: "4711", bogus: "extraFields.Bogus Field"),
        Case(kind: "upkeep", start: { try await RunningEmulator.start { UpKeepEmulator.router(state: $0) } }, settings: { MoreConnectorsTests.upkeep($0) },
             // The field wins over the upkeep block's category.
             fields: ["category": "Vision/{defect}"], arrived: { $0.body["category"] == .string("Vision/crack") },
             title: { $0.title }, titleMax: nil, user: "u-ortiz", assignee: "u-ortiz", bogus: "bogusField"),
        Case(kind: "fiix", start: { try await RunningEmulator.start { FiixEmulator.router(state: $0) } }, settings: { MoreConnectorsTests.fiix($0) },
             fields: ["strCode": "{reference}", "intRequestedByUserID": "42"],
             arrived: { $0.body["strCode"] == .string("MW-FIELDS000001") && $0.body["intRequestedByUserID"] == .number(42) },
             title: { String(($0.body["strDescription"]?.stringValue ?? "").prefix { $0 != "\n" }) }, titleMax: nil, user: "77", assignee: "77",
             bogus: "strBogus"),
        Case(kind: "oracle-fusion", start: { try await RunningEmulator.start { OracleMaintenanceEmulator.router(state: $0) } },
             settings: { MoreConnectorsTests.oracle($0) },
             fields: ["WorkOrderSubTypeCode": "VISION", "AllowCompletionToInventoryFlag": "false"],
             arrived: { $0.body["WorkOrderSubTypeCode"] == .string("VISION") && $0.body["AllowCompletionToInventoryFlag"] == .bool(false) },
             title: { String(($0.body["WorkOrderDescription"]?.stringValue ?? "").prefix { $0 != "\n" }) }, titleMax: 240, user: nil, assignee: nil,
             bogus: "BogusAttribute"),
        Case(kind: "limble", start: { try await RunningEmulator.start { LimbleEmulator.router(state: $0) } }, settings: { LimbleHxGNTests.limble($0) },
             fields: ["meta1": "{reference}", "estimatedTime": "90"],
             arrived: { $0.body["meta1"] == .string("MW-FIELDS000001") && $0.body["estimatedTime"] == .number(90) },
             title: { $0.title }, titleMax: nil, user: "312", assignee: "user:312", bogus: "bogusField"),
        Case(kind: "hxgn-eam", start: { try await RunningEmulator.start { HxGNEAMEmulator.router(state: $0) } }, settings: { LimbleHxGNTests.hxgn($0) },
             fields: ["CLASSID.CLASSCODE": "VISION", "PROBLEMCODEID.PROBLEMCODE": "{defect}"],
             arrived: { $0.body["CLASSID"] == .object(["CLASSCODE": .string("VISION")]) && $0.body["PROBLEMCODEID"] == .object(["PROBLEMCODE": .string("crack")]) },
             title: { $0.title }, titleMax: 80, user: "ORTIZ", assignee: "ORTIZ", bogus: "BOGUSELEMENT"),
    ]

    @Test(arguments: cases)
    func titleTemplateAndFieldsArriveAndUnknownFieldsDeadLetter(_ c: Case) async throws {
        let emu = try await c.start()
        defer { emu.stop() }
        var s = c.settings(emu.baseURL)
        s.titleTemplate = Self.longTitle
        s.fields = c.fields
        if let user = c.user { s.options["users"] = "T-120=9999, T-114=\(user)" }
        let connector = try CMMSRegistry.makeConnector(s, http: HTTPClient.test())
        guard case .created = await Dispatch.deliver(connector, Self.draft()) else { Issue.record("\(c.kind): not created"); return }
        // By our reference: HxGN's record id is the reference itself, not the emulator's row id.
        let wo = try #require(await emu.state.find(reference: "MW-FIELDS000001").first)
        #expect(c.arrived(wo), "\(c.kind): \(wo.body)")

        let rendered = WorkOrderTemplate(Self.longTitle).render(Self.draft())
        let title = c.title(wo)
        if let max = c.titleMax, rendered.count > max {
            #expect(title == String(rendered.prefix(max - 1)) + "…", "\(c.kind)")
        } else {
            #expect(title == rendered, "\(c.kind)")
        }
        #expect(wo.assignee == c.assignee, "\(c.kind)")

        s.fields[c.bogus] = "{zone}"
        let rejecting = try CMMSRegistry.makeConnector(s, http: HTTPClient.test())
        guard case .permanent(let message) = await Dispatch.deliver(rejecting, Self.draft(reference: "MW-FIELDS000002")) else {
            Issue.record("\(c.kind): an unknown field must dead-letter"); return
        }
        #expect(message.contains(c.bogus), "\(c.kind): \(message)")
    }

    @Test func withoutTemplateOrFieldsThePayloadIsUnchanged() async throws {
        let emu = try await RunningEmulator.start { SandboxEmulator.router(state: $0) }
        defer { emu.stop() }
        var s = TestCMMS(name: "sb", kind: "sandbox", baseURL: emu.baseURL)
        s.auth = .bearer(token: "tok")
        let c = try CMMSRegistry.makeConnector(s, http: HTTPClient.test())
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        let wo = try #require(await emu.state.find(id: id))
        #expect(wo.title == "Crack at C2 head pulley")
        #expect(wo.body["work_type"] == nil && wo.body["cost_center"] == nil && wo.assignee == nil)
    }

    @Test func aFieldThatRendersEmptyIsLeftOut() throws {
        var s = MaximoTests.settings("http://127.0.0.1:1")
        s.fields = ["worktype": "{shift}", "failurecode": "{production_order}"]
        let c = try #require(try CMMSRegistry.makeConnector(s, http: HTTPClient.test()) as? MaximoConnector)
        var d = Fixtures.draft()
        d.shift = nil
        let p = c.payload(d)
        #expect(p["worktype"] == nil)
        #expect(p["failurecode"] == .string("PO-4471"))
    }

    /// A field Millwright fills itself is refused at startup, named, whatever its case where the system ignores case.
    @Test(arguments: [("sap-pm", "MaintNotifLongTextForEdit"), ("maximo", "DESCRIPTION"), ("maximo", "externalrefid"),
                      ("maintainx", "extraFields.Millwright Reference"), ("hxgn-eam", "WORKORDERID.DESCRIPTION"), ("sandbox", "reference")])
    func fieldsMayNotOverwriteWhatMillwrightFills(kind: String, field: String) throws {
        var s: TestCMMS = switch kind {
        case "sap-pm": SAPPMTests.settings("http://127.0.0.1:1")
        case "maximo": MaximoTests.settings("http://127.0.0.1:1")
        case "maintainx": MaintainXTests.settings("http://127.0.0.1:1", ["reference_field": "Millwright Reference"])
        case "hxgn-eam": LimbleHxGNTests.hxgn("http://127.0.0.1:1")
        default: { var b = TestCMMS(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1"); b.auth = .bearer(token: "t"); return b }()
        }
        s.fields = [field: "{zone}"]
        let error = #expect(throws: ConnectorError.self) { try CMMSRegistry.makeConnector(s, http: HTTPClient.test()) }
        let message = error.map { String(describing: $0) } ?? ""
        #expect(message.contains("fields.\(field)") && message.contains("Millwright fills"), "\(message)")
    }

    @Test func maximoAssignsToOwnerOrOwnerGroupAndLeavesUnmappedTechniciansInTheText() async throws {
        let emu = try await MaximoTests.start()
        defer { emu.stop() }
        var s = MaximoTests.settings(emu.baseURL)
        s.options["users"] = "T-114=ORTIZ, mechanics=team:MECH"
        let c = try CMMSRegistry.makeConnector(s, http: HTTPClient.test())
        for (who, ref, owner, group) in [("T-114", "MW-MXOWNER0001", "ORTIZ", nil), ("mechanics", "MW-MXOWNER0002", nil, "MECH"),
                                         ("T-999", "MW-MXOWNER0003", nil, nil) as (String, String, String?, String?)] {
            var d = Fixtures.draft(reference: ref)
            d.assignee = who
            guard case .created(let id) = await c.create(d) else { Issue.record("\(who) not created"); continue }
            let body = try #require(await emu.state.find(id: id)?.body)
            #expect(body["owner"]?.stringValue == owner, "\(who)")
            #expect(body["ownergroup"]?.stringValue == group, "\(who)")
        }
    }

    @Test func maintainXAssignsUsersByIdOrEmailAndTeams() async throws {
        let emu = try await MaintainXTests.start()
        defer { emu.stop() }
        var s = MaintainXTests.settings(emu.baseURL)
        s.options["users.T-114"] = "4711"
        s.options["users.T-120"] = "lee@plant.example"
        s.options["users.mechanics"] = "team:12"
        let c = try CMMSRegistry.makeConnector(s, http: HTTPClient.test())
        let expected: [(String, JSONValue?)] = [
            ("T-114", .object(["type": .string("USER"), "id": .number(4711)])),
            ("T-120", .object(["type": .string("USER"), "id": .string("lee@plant.example")])),
            ("mechanics", .object(["type": .string("TEAM"), "id": .number(12)])),
            ("T-999", nil),
        ]
        for (i, (who, assignee)) in expected.enumerated() {
            var d = Fixtures.draft(reference: "MW-MXASSIGN000\(i)")
            d.assignee = who
            guard case .created(let id) = await c.create(d) else { Issue.record("\(who) not created"); continue }
            let body = try #require(await emu.state.find(id: id)?.body)
            #expect(body["assignees"] == assignee.map { .array([$0]) }, "\(who)")
        }
    }

    @Test func systemsThatTakeNumericUserIdsRefuseNamesAtStartup() throws {
        for var s in [LimbleHxGNTests.limble("http://127.0.0.1:1"), MoreConnectorsTests.fiix("http://127.0.0.1:1")] {
            s.options["users"] = "T-114=ortiz"
            let error = #expect(throws: ConnectorError.self) { try CMMSRegistry.makeConnector(s, http: HTTPClient.test()) }
            let message = error.map { String(describing: $0) } ?? ""
            #expect(message.contains("T-114") && message.contains("numeric"), "\(message)")
        }
    }

    // MARK: Typed fields agree with the specs

    @Test func sapFieldKindsAreTheEDMXBooleanAndNumberProperties() throws {
        let t = try #require(try EDMXModel.load(try Fixtures.specFile("sap-API_MAINTNOTIFICATION.edmx.xml")).type(ofSet: "MaintenanceNotification"))
        var kinds: [String: FieldKind] = [:]
        for p in t.properties.values where p.creatable && !p.name.hasPrefix("ZZ1_") {
            switch p.type {
            case "Edm.Boolean": kinds[p.name] = .boolean
            case "Edm.Int16", "Edm.Int32", "Edm.Byte": kinds[p.name] = .integer
            case "Edm.Double", "Edm.Single": kinds[p.name] = .number
            default: break
            }
        }
        #expect(kinds == SAPPMConnector.fieldKinds)
    }

    @Test func maintainXFieldKindsAreTheOpenAPIsNonTextProperties() throws {
        let schema = try OpenAPIBody.load(try Fixtures.specFile("maintainx-openapi.json"), path: "/workorders", method: "post")
        var kinds: [String: FieldKind] = [:]
        for (name, p) in schema.properties where !p.types.isEmpty && p.types.isSubset(of: ["integer", "number", "boolean"]) {
            kinds[name] = p.types == ["boolean"] ? .boolean : p.types.contains("number") ? .number : .integer
        }
        #expect(kinds == MaintainXConnector.fieldKinds)
    }

    @Test func fieldKindsAgreeWithTheEmulatorTables() {
        for (name, f) in MaximoEmulator.fields where f.creatable {
            let expected: FieldKind? = switch f.type { case .integer: .integer; case .duration: .number; case .yorn: .boolean; default: nil }
            #expect(MaximoConnector.fieldKinds[name] == expected, "maximo \(name)")
        }
        for (name, k) in OracleMaintenanceEmulator.fields {
            let expected: FieldKind? = switch k { case .number: .number; case .boolean: .boolean; case .string: nil }
            #expect(OracleMaintenanceConnector.fieldKinds[name] == expected, "oracle \(name)")
        }
        for name in ["intRequestedByUserID", "bolNotifyOnAssignment"] { #expect(FiixConnector.fieldKind(name) == .integer) }
        #expect(FiixConnector.fieldKind("strCode") == nil)
    }

    @Test func typedValuesFallBackToTextWhenTheyDoNotRead() {
        #expect(PlantCustomization.typed("12", .integer) == .number(12))
        #expect(PlantCustomization.typed("1.5", .integer) == .string("1.5"))
        #expect(PlantCustomization.typed("TRUE", .boolean) == .bool(true))
        #expect(PlantCustomization.typed("yes", .boolean) == .string("yes"))
        #expect(PlantCustomization.typed("inf", .number) == .string("inf"))
        #expect(PlantCustomization.typed("007", nil) == .string("007"))
    }
}
