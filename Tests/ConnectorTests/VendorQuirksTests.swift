import AsyncHTTPClient
import Connectors
import Foundation
import MillwrightCore
import MillwrightTesting
import Testing

/// The real systems' quirks the emulators do not show (yet), served by a scripted server.
@Suite struct VendorQuirksTests {
    // MARK: Maximo

    static let encodedKey = "_QkVERk9SRC8xMDAx"

    static func maximoServer() async throws -> ScriptedServer {
        try await ScriptedServer.start { r in
            let collection = "/maximo/api/os/mxapiwodetail"
            if r.method == "POST", r.path == collection {
                // Maximo 7.6: the record's REST id is the encoded key in href, not workorderid.
                return .json(201, ["href": "http://maximo.example\(collection)/\(encodedKey)", "workorderid": 1001, "wonum": "1001", "status": "WAPPR"],
                             headers: [("Location", "http://maximo.example\(collection)/\(encodedKey)")])
            }
            if r.method == "GET", r.path == "\(collection)/\(encodedKey)" { return .json(200, ["status": "INPRG", "wonum": "1001"]) }
            if r.method == "GET", r.path == collection {
                return .json(200, ["member": [["href": "http://maximo.example\(collection)/\(encodedKey)", "workorderid": 1001]]])
            }
            return .json(404, ["Error": ["reasonCode": "BMXAA8727E", "message": "BMXAA8727E - The OSLC resource \(r.path) was not found."]])
        }
    }

    static func maximo(_ url: String, _ extra: [String: String] = [:]) throws -> any CMMSConnector {
        var s = TestCMMS(name: "maximo", kind: "maximo", baseURL: url)
        s.auth = .basic(user: "mxintadm", password: "pw")
        s.options = ["site": "BEDFORD"].merging(extra) { $1 }
        return try CMMSRegistry.makeConnector(s, http: .test())
    }

    @Test func maximoFollowUpCallsUseTheHrefIdNotWorkorderid_Maximo76EncodedResourceKey() async throws {
        let srv = try await Self.maximoServer()
        defer { srv.stop() }
        let c = try Self.maximo(srv.baseURL)
        #expect(await c.create(Fixtures.draft()) == .created(cmmsId: Self.encodedKey))
        #expect(try await c.status(cmmsId: Self.encodedKey) == .inProgress)
        #expect(await c.lookup(reference: "MW-ABCDEF123456") == .lookupFound(cmmsId: Self.encodedKey))
        let post = try #require(await srv.requests.first { $0.method == "POST" })
        #expect(post.headers["properties"]?.contains("href") == true)
    }

    @Test func maximoBasicAuthSendsAuthorizationBasic() async throws {
        let srv = try await Self.maximoServer()
        defer { srv.stop() }
        _ = try await Self.maximo(srv.baseURL).lookup(reference: "MW-1")
        let r = try #require(await srv.requests.first)
        #expect(r.headers["authorization"] == "Basic " + Data("mxintadm:pw".utf8).base64EncodedString())
        #expect(r.headers["maxauth"] == nil)
    }

    @Test func maximoAuthHeaderMaxauthKeepsTheNativeHeader() async throws {
        let srv = try await Self.maximoServer()
        defer { srv.stop() }
        _ = try await Self.maximo(srv.baseURL, ["auth_header": "maxauth"]).lookup(reference: "MW-1")
        let r = try #require(await srv.requests.first)
        #expect(r.headers["maxauth"] == Data("mxintadm:pw".utf8).base64EncodedString())
        #expect(r.headers["authorization"] == nil)
    }

    @Test func maximoAuthHeaderRefusesOtherValues() {
        var s = TestCMMS(name: "maximo", kind: "maximo", baseURL: "http://127.0.0.1:1")
        s.options = ["site": "S", "auth_header": "bearer"]
        #expect(throws: ConfigError.self) { try s.read() }
    }

    // MARK: Oracle

    static func oracle(_ url: String, _ extra: [String: String] = [:]) throws -> any CMMSConnector {
        var s = TestCMMS(name: "oracle", kind: "oracle-fusion", baseURL: url)
        s.auth = .basic(user: "u", password: "p")
        s.options = ["organization": "M1"].merging(extra) { $1 }
        return try CMMSRegistry.makeConnector(s, http: .test())
    }

    @Test func oracleReadsTheSystemStatusAndMapsUserStatuses_WorkOrderSystemStatusCode() async throws {
        let srv = try await ScriptedServer.start { r in
            // A user-defined status (any code) over Oracle's system status.
            r.path.hasSuffix("/maintenanceWorkOrders/42")
                ? .json(200, ["WorkOrderId": 42, "WorkOrderStatusCode": "AWAIT_PARTS", "WorkOrderSystemStatusCode": "ORA_RELEASED"])
                : .json(404, ["title": "not found"])
        }
        defer { srv.stop() }
        #expect(try await Self.oracle(srv.baseURL).status(cmmsId: "42") == .inProgress, "the system status decides when the user status is not mapped")
        #expect(try await Self.oracle(srv.baseURL, ["status_map.AWAIT_PARTS": "open"]).status(cmmsId: "42") == .open, "a mapped user status decides")
        #expect(await srv.requests.first?.param("fields")?.contains("WorkOrderSystemStatusCode") == true)
    }

    // MARK: SAP

    actor Notes { var texts: [String] = []; func add(_ t: String) { texts.append(t) } }

    @Test func sapSendsLanguageUsesOrderV2SapPrioritiesAndNotesAFailedOrder() async throws {
        let notes = Notes()
        let srv = try await ScriptedServer.start { r in
            if r.headers["x-csrf-token"]?.lowercased() == "fetch" { return ScriptedServer.Answer(status: 200, headers: [("x-csrf-token", "T0K")], body: "{}") }
            if r.method == "POST", r.path.hasSuffix("/MaintenanceNotification") { return .json(201, ["d": ["MaintenanceNotification": "10000001"]]) }
            if r.method == "POST", r.path.hasSuffix("/MaintenanceOrder") {
                return .json(400, ["error": ["code": "IWO_BAPI2/110", "message": ["lang": "de", "value": "Auftragsart PM01 im Werk 1010 nicht vorgesehen"]]])
            }
            if r.method == "GET", r.path.hasSuffix("MaintenanceNotification('10000001')") { return .json(200, ["d": ["MaintenanceNotification": "10000001"]], headers: [("ETag", "W/\"1\"")]) }
            if r.method == "PATCH" {
                await notes.add((r.json?["MaintNotifLongTextForEdit"] as? String) ?? "")
                return ScriptedServer.Answer(status: 204)
            }
            return .json(405, ["error": ["code": "X", "message": ["value": "unexpected \(r.method) \(r.path)"]]])
        }
        defer { srv.stop() }
        var s = TestCMMS(name: "sap", kind: "sap-pm", baseURL: srv.baseURL)
        s.auth = .basic(user: "u", password: "p")
        s.options = ["create_order": "true", "order_version": "2", "language": "de", "priorities.critical": "A", "plant": "1010"]
        let c = try CMMSRegistry.makeConnector(s, http: .test())

        #expect(await c.create(Fixtures.draft(priority: .critical)) == .created(cmmsId: "10000001"), "a failed order does not fail the notification")
        let requests = await srv.requests
        #expect(!requests.isEmpty && requests.allSatisfy { $0.param("sap-language") == "DE" }, "sap-language on every call")
        let order = try #require(requests.first { $0.method == "POST" && $0.path.hasSuffix("/MaintenanceOrder") })
        #expect(order.path == "/sap/opu/odata/sap/API_MAINTENANCEORDER;v=0002/MaintenanceOrder")
        let notification = try #require(requests.first { $0.method == "POST" && $0.path.hasSuffix("/MaintenanceNotification") })
        #expect(notification.json?["MaintPriority"] as? String == "A", "MaintPriority from sap.priorities")
        #expect(await notes.texts.contains { $0.contains("Auftragsart PM01 im Werk 1010 nicht vorgesehen") }, "SAP's reason is on the notification")
    }

    @Test func sapPrioritiesAreCheckedAgainstTheEDMXLength() {
        var s = TestCMMS(name: "sap", kind: "sap-pm", baseURL: "http://127.0.0.1:1")
        s.options = ["priorities.critical": "12"]
        #expect(throws: ConfigError.self) { try s.read() }
        s.options = ["priorities.urgent": "1"]
        #expect(throws: ConfigError.self) { try s.read() }
    }
}
