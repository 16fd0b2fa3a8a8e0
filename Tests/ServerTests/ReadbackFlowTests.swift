import AsyncHTTPClient
import Connectors
import Emulators
import Evidence
import Foundation
@testable import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MillwrightCore
import MillwrightTesting
import NIOCore
import Prometheus
@testable import Server
import Store
import Testing

/// Closing the loop, per CMMS, against its emulator in-process: a detection becomes a work order
/// in the emulator, a technician completes it there with a closure code, notes and a photo, and
/// one status-sync pass closes the incident and reads the closure back — into the timeline, the
/// incident page (before and after), the evidence route and the training export.
@Suite struct ReadbackFlowTests {
    static let keys: [(APIRole, String)] = [(.viewer, "k-viewer"), (.operator, "k-operator")]
    static let hostileNote = "Replaced the belt <b>&</b> re-tensioned; \"ok\""

    struct Case: Sendable, CustomStringConvertible {
        var kind: String
        var auth: CMMSAuth
        var options: [String: String] = [:]
        /// The closure code the technician gives, and what the connector should make of it.
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

    /// A JPEG the evidence module decodes: the technician's completion photo.
    static let photo: Data = try! JPEG.encode(SyntheticFrame.generate(width: 96, height: 64, seed: 7))

    struct Flow {
        var gateway: Gateway
        var connector: any CMMSConnector
        var emulator: RunningEmulator
        var incident: String
        var cmmsId: String
    }

    static func settings(_ c: Case, baseURL: String) throws -> CMMSSettings {
        var s = CMMSSettings(name: "plant-cmms", kind: c.kind, baseURL: baseURL)
        s.auth = c.auth
        let entries = c.options.sorted { $0.key < $1.key }.map { k, v in
            ConfigTree.Entry(key: k, keyLine: 1, value: ConfigTree(.scalar(v), file: "test", line: 1, path: "x.\(k)"))
        }
        let kind = try #require(CMMSRegistry.kind(c.kind))
        try s.read(block: ConfigTree(.mapping(entries), file: "test", line: 1, path: kind.block), as: kind)
        return s
    }

    /// A gateway with evidence, one CMMS (the emulator), one camera; one detection delivered as a work order.
    static func deliveredWorkOrder(_ c: Case) async throws -> Flow {
        let router = try #require(EmulatorRegistry.entry(c.kind)).router
        let emulator = try await RunningEmulator.start(router)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-readback-\(UUID().uuidString)").path
        var s = Settings()
        s.apiKeys = keys.map { APIKeySettings(name: $0.0.rawValue, role: $0.0, key: $0.1) }
        s.cmms = [try settings(c, baseURL: emulator.baseURL + c.path)]
        s.assets.cameras = [CameraMapping(camera: "CAM-1", asset: "10004712", cmms: "plant-cmms")]
        s.evidence.directory = dir + "/evidence"
        let connector = try CMMSRegistry.makeConnector(s.cmms[0], http: .shared)
        let evidence = try EvidenceService(settings: s.evidence, timezone: "UTC", fetchFrames: false)
        let gw = Gateway(settings: s, store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [connector],
                         logger: Logger(label: "readback"), evidence: evidence)
        let body = try JSONSerialization.data(withJSONObject: [
            "detection_id": "d1", "camera_id": "CAM-1", "timestamp": Timestamps.format(Date()), "defect_class": "belt_wear",
            "confidence": 0.95, "bbox": ["x": 10, "y": 10, "width": 20, "height": 20], "image": ["width": 640, "height": 360],
        ] as [String: Any])
        let report = try await gw.ingest(body: body, format: nil)
        let incident = try #require(report.accepted.first?.incidentId)
        let item = try #require(try await gw.store.claimDue(cmms: "plant-cmms", limit: 1, suspects: false, rendersEvidence: true, now: Date()).first)
        await OutboxDispatcher(gateway: gw).deliver(item, via: connector)
        let cmmsId = try #require(try await gw.store.workOrder(id: item.workOrderId)?.cmmsId, "the work order reached the emulator")
        return Flow(gateway: gw, connector: connector, emulator: emulator, incident: incident, cmmsId: cmmsId)
    }

    /// The technician's side, through the emulator's own complete action.
    static func complete(_ f: Flow, code: String, notes: [String], photo: (name: String, type: String, data: Data)?) async throws {
        var body: [String: JSONValue] = ["status": .string("completed"), "code": .string(code), "notes": .array(notes.map(JSONValue.string))]
        if let photo {
            body["photo"] = .object(["name": .string(photo.name), "content_type": .string(photo.type), "data_base64": .string(photo.data.base64EncodedString())])
        }
        var req = HTTPClientRequest(url: f.emulator.baseURL + "/_emulator/work-orders/\(f.cmmsId)/complete")
        req.method = .POST
        req.headers.add(name: "Content-Type", value: "application/json")
        req.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(JSONValue.object(body))))
        let r = try await HTTPClient.shared.execute(req, timeout: .seconds(30))
        #expect(r.status.code == 200)
    }

    @Test(arguments: cases)
    func aCompletedWorkOrdersClosureAppearsOnTheIncidentAndInTheExport(_ c: Case) async throws {
        let f = try await Self.deliveredWorkOrder(c)
        defer { f.emulator.stop() }
        try await Self.complete(f, code: c.code, notes: [Self.hostileNote], photo: ("after-repair.jpg", "image/jpeg", Self.photo))
        let before = f.gateway.events.lastSeq
        await StatusSync(gateway: f.gateway).syncOnce(f.connector)
        let events = f.gateway.events.events(after: before) ?? []
        #expect(events.contains { $0.event.name == "incident" && $0.event.data.contains("closure read back from the CMMS") }, "the open page hears of it")

        let incident = try #require(try await f.gateway.store.incident(id: f.incident))
        #expect(incident.state == "closed", "the CMMS completion closed the incident")
        let back = try #require(try await f.gateway.store.readback(incidentId: f.incident))
        #expect(back.outcome == .read)
        #expect(back.closureCode == c.expectedCode)
        #expect(back.notes.map(\.text) == (c.readsNotes ? [Self.hostileNote] : []), "the technician's notes only, not Millwright's own")
        let sha = try #require(back.photoSHA256)
        #expect(sha == EvidenceStore.hash(Self.photo), "the JPEG is kept byte for byte")
        #expect(sha != incident.evidenceSha256, "the photo, not our evidence upload")
        let audit = try #require(incident.timeline?.first { $0.kind == "cmms.readback" }, "the read-back is in the timeline")
        #expect(audit.data["photo_sha256"]?.stringValue == sha)

        // Read back once: a second pass asks nothing more.
        await StatusSync(gateway: f.gateway).syncOnce(f.connector)
        #expect(try await f.gateway.store.incident(id: f.incident)?.timeline?.filter { $0.kind == "cmms.readback" }.count == 1)

        try await Application(router: APIServer(gateway: f.gateway, registry: PrometheusCollectorRegistry()).router()).test(.router) { client in
            let viewer: HTTPFields = [.authorization: "Bearer k-viewer"]
            let page = String(buffer: try await client.execute(uri: "/ui/incidents/\(f.incident)", method: .get, headers: viewer).body)
            #expect(page.contains("Before and after"))
            #expect(page.contains("data-src=\"/v1/evidence/\(sha)\""), "the completion photo beside the evidence")
            #expect(page.contains(HTML.escape(c.expectedCode)))
            if c.readsNotes {
                #expect(page.contains(HTML.escape(Self.hostileNote)))
                #expect(!page.contains("<b>&</b>"), "notes are escaped")
            }
            let thumb = try await client.execute(uri: "/v1/evidence/\(sha)?w=64", method: .get, headers: viewer)
            #expect(thumb.status == .ok)
            #expect(thumb.headers[.contentType] == "image/jpeg")
            #expect(try await client.execute(uri: "/v1/evidence/\(sha)", method: .get).status == .unauthorized, "no key, no photo")

            let operatorKey: HTTPFields = [.authorization: "Bearer k-operator"]
            let coco = try await client.execute(uri: "/v1/exports/training?format=coco", method: .get, headers: operatorKey)
            #expect(coco.status == .ok)
            let zip = Data(buffer: coco.body)
            let name = "images/completion-\(f.incident)-\(sha.prefix(12)).jpg"
            #expect(zip.range(of: Data(name.utf8)) != nil, "the completion photo is in the archive")
            #expect(zip.range(of: Self.photo) != nil, "with its bytes")
            #expect(["1", "1.0"].contains { zip.range(of: Data("\"completion_negatives\":\($0),".utf8)) != nil }, "and stated in the manifest")
            #expect(zip.range(of: Data("\"millwright_verdict\":\"completion_photo\"".utf8)) != nil, "a COCO image with no annotation")
            let yolo = Data(buffer: try await client.execute(uri: "/v1/exports/training?format=yolo", method: .get, headers: operatorKey).body)
            #expect(yolo.range(of: Data("labels/completion-\(f.incident)-\(sha.prefix(12)).txt".utf8)) != nil, "an empty YOLO label file")
            let confirmedOnly = Data(buffer: try await client.execute(uri: "/v1/exports/training?format=coco&verdict=confirmed", method: .get, headers: operatorKey).body)
            #expect(confirmedOnly.range(of: Data(name.utf8)) == nil, "negatives are left out of a confirmed-only export")
        }
    }

    @Test func aPhotoThatIsNotAnImageIsRefusedAndTheRestKept() async throws {
        let f = try await Self.deliveredWorkOrder(Self.cases[0])
        defer { f.emulator.stop() }
        try await Self.complete(f, code: "Belt replaced", notes: ["Done"], photo: ("after.jpg", "image/jpeg", Data("this is not a JPEG".utf8)))
        await StatusSync(gateway: f.gateway).syncOnce(f.connector)
        let back = try #require(try await f.gateway.store.readback(incidentId: f.incident))
        #expect(back.photoSHA256 == nil)
        #expect(back.notes.map(\.text) == ["Done"], "the notes are kept")
        #expect(back.closureCode == "DONE (Belt replaced)")
        #expect(back.refused.contains { $0.hasPrefix("after.jpg: not a JPEG or PNG photo") }, "\(back.refused)")
        let page = try await IncidentPage.load(f.gateway, id: f.incident, role: .viewer)?.render() ?? ""
        #expect(page.contains("Not taken"))
        #expect(!page.contains("Before and after"))
    }

    @Test func aPhotoOverTheBoundIsNotDownloadedAndTheRestKept() async throws {
        let f = try await Self.deliveredWorkOrder(Self.cases[0])
        defer { f.emulator.stop() }
        let big = Self.photo + Data(repeating: 0, count: ReadbackLimits.photoBytes)
        try await Self.complete(f, code: "Belt replaced", notes: ["Done"], photo: ("huge.jpg", "image/jpeg", big))
        await StatusSync(gateway: f.gateway).syncOnce(f.connector)
        let back = try #require(try await f.gateway.store.readback(incidentId: f.incident))
        #expect(back.photoSHA256 == nil)
        #expect(back.notes.map(\.text) == ["Done"])
        #expect(back.refused.contains { $0.hasPrefix("huge.jpg: larger than \(ReadbackLimits.photoBytes) bytes") }, "\(back.refused)")
    }
}
