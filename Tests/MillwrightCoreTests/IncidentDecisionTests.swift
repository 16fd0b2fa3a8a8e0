import Foundation
import MillwrightCore
import Testing

/// The incident decision without a database: snapshots in, effects out.
@Suite struct IncidentDecisionTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    func rules(confirm: Int = 2, shadow: Bool = false, inventory: Bool = false) -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-07", asset: "A1", cmms: "sb", criticality: .a)]
        var crack = DefectRule()
        crack.minConfidence = 0.8
        crack.confirmDetections = confirm
        crack.confirmWithin = .seconds(10)
        crack.parts = [PartRequirement(sku: "BELT-1", qty: 1), PartRequirement(sku: "GONE", qty: 1)]
        s.defects["crack"] = crack
        s.shadow = shadow
        let planning = inventory ? PlanningContext(roster: Roster([]), calendar: ShiftCalendar(timeZone: .gmt, shifts: []), tracksInventory: true) : nil
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil), planning: planning)
    }

    func detection(_ conf: Double = 0.9, camera: String = "CAM-07", area: Double? = nil) -> Detection {
        Detection(detectionId: "d-new", cameraId: camera, timestamp: t0, defectClass: "crack", confidence: conf,
                  bbox: area.map { BoundingBox(x: 0, y: 0, width: $0, height: 1) })
    }

    func keyQuery(_ d: Detection, _ r: PipelineRules) throws -> (KeyQuery, MappedDetection) {
        guard case .key(let q, let m) = IncidentDecision.query(for: d, id: "d-new", rules: r) else { throw Unexpected() }
        return (q, m)
    }
    struct Unexpected: Error {}

    @Test func anUnmappedCameraIsOrphanedWithoutReadingAnything() {
        guard case .orphaned(let e) = IncidentDecision.query(for: detection(camera: "CAM-99"), id: "d-new", rules: rules()) else {
            Issue.record("expected an orphan"); return
        }
        #expect(e.detection.status == .orphaned)
        #expect(e.incident == nil && e.workOrder == nil)
        #expect(e.audit.map(\.kind) == ["detection.orphaned"])
    }

    @Test func theWindowIsHalfOpenAroundTheDetection() throws {
        let (q, _) = try keyQuery(detection(), rules())
        #expect(q.window.contains(t0.addingTimeInterval(-10)))
        #expect(!q.window.contains(t0.addingTimeInterval(-10.001)))
        #expect(q.window.contains(t0.addingTimeInterval(9.999)))
        #expect(!q.window.contains(t0.addingTimeInterval(10)))
    }

    @Test func onlyQualifyingPendingDetectionsCountTowardConfirmation() throws {
        let r = rules(confirm: 2)
        let (_, m) = try keyQuery(detection(), r)
        let weak = KeySnapshot(pending: [PendingDetection(id: "p1", timestampMillis: 0, confidence: 0.5, bboxArea: nil)])
        guard case .done(let e) = IncidentDecision.decide(detection(), id: "d-new", mapped: m, snapshot: weak, rules: r) else {
            Issue.record("a weak pending detection must not confirm"); return
        }
        #expect(e.detection.status == .pendingConfirmation)
        #expect(e.audit.map(\.kind) == ["detection.decided"])

        let strong = KeySnapshot(pending: [PendingDetection(id: "p1", timestampMillis: 0, confidence: 0.85, bboxArea: nil)])
        guard case .needsOpening(let q) = IncidentDecision.decide(detection(), id: "d-new", mapped: m, snapshot: strong, rules: r) else {
            Issue.record("two qualifying detections confirm"); return
        }
        #expect(q.asset == "A1")
        #expect(q.priorSinceMillis == Timestamps.millis(t0) - 90 * 86_400_000)
        #expect(q.skus.isEmpty, "no inventory configured: no stock to read")
    }

    @Test func aRepeatIsAppendedToTheOpenIncident() throws {
        let r = rules()
        let (_, m) = try keyQuery(detection(), r)
        guard case .done(let e) = IncidentDecision.decide(detection(), id: "d-new", mapped: m, snapshot: KeySnapshot(openIncidentId: "inc-1"), rules: r) else {
            Issue.record("expected a repeat"); return
        }
        #expect(e.appendTo == "inc-1")
        #expect(e.floor == [.detection], "a repeat is heard as a detection, not a new incident")
        #expect(e.detection.incidentId == "inc-1")
        #expect(e.detection.status == .suppressedRepeat)
        #expect(e.workOrder == nil)
    }

    @Test func openingNamesEverythingTheStoreWrites() throws {
        let r = rules(confirm: 2, inventory: true)
        let d = detection(area: 40)
        let (_, m) = try keyQuery(d, r)
        let key = KeySnapshot(pending: [PendingDetection(id: "p1", timestampMillis: 1, confidence: 0.3, bboxArea: nil),
                                        PendingDetection(id: "p2", timestampMillis: 2, confidence: 0.9, bboxArea: 20)])
        guard case .needsOpening(let q) = IncidentDecision.decide(d, id: "d-new", mapped: m, snapshot: key, rules: r) else {
            Issue.record("expected an opening"); return
        }
        #expect(q.skus == ["BELT-1", "GONE"])
        let e = IncidentDecision.open(d, id: "d-new", mapped: m, key: key,
                                      opening: OpeningSnapshot(priorIncidents: 0, stock: ["BELT-1": StockLevel(free: 1, location: "B-12")]),
                                      ids: ("inc-1", "wo-1"), rules: r, now: t0)
        #expect(e.detection.status == .confirmed)
        #expect(e.confirms == ["p1", "p2"], "every pending detection in the window joins the incident")
        #expect(e.incident?.firstArea == 20, "growth is measured from the first pending detection with a box")
        #expect(e.reservations.map(\.line.status) == [.reserved, .unknown])
        #expect(e.reservations.first?.line.free == 0)
        #expect(e.workOrder?.phase == .pending)
        #expect(e.workOrder?.draft.description.contains("BELT-1 ×1 reserved at B-12 (0 left)") == true)
        #expect(e.audit.map(\.kind) == ["part.reserved", "part.short", "incident.opened", "work_order.queued", "detection.decided"])
        #expect(e.floor == [.detection, .incidentOpened(id: "inc-1", camera: "CAM-07", detail: "confirmed: new incident")])
        let queued = e.audit.first { $0.kind == "work_order.queued" }
        #expect(queued?.data["payload_sha256"] == .string(Hashing.sha256Hex(Data((e.workOrder?.payload ?? "").utf8))))
    }

    @Test func theLastUnitGoesToOneIncidentAndShadowModeNeverTakes() throws {
        let live = rules(confirm: 1, inventory: true)
        let (_, m) = try keyQuery(detection(), live)
        let short = IncidentDecision.open(detection(), id: "d-new", mapped: m, key: KeySnapshot(),
                                          opening: OpeningSnapshot(stock: ["BELT-1": StockLevel(free: 0, location: nil)]),
                                          ids: ("inc-2", "wo-2"), rules: live, now: t0)
        #expect(short.reservations.first?.line.status == .short)
        #expect(short.reservations.first?.take == true)

        let shadow = rules(confirm: 1, shadow: true, inventory: true)
        let looked = IncidentDecision.open(detection(), id: "d-new", mapped: m, key: KeySnapshot(),
                                           opening: OpeningSnapshot(stock: ["BELT-1": StockLevel(free: 3, location: nil)]),
                                           ids: ("inc-3", "wo-3"), rules: shadow, now: t0)
        #expect(looked.workOrder?.phase == .shadow)
        #expect(looked.detection.status == .shadow)
        #expect(looked.reservations.map(\.take) == [false, false])
        #expect(looked.reservations.first?.line.status == .available)
        #expect(!looked.audit.contains { $0.kind.hasPrefix("part.") })
    }
}
