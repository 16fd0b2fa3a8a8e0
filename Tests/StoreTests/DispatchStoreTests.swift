import Foundation
import MillwrightCore
import Store
import Testing

/// Routing, parts and escalation as the store decides them, inside the ingest transaction.
@Suite struct DispatchStoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-dispatch-\(UUID().uuidString)").path

    /// `cameras` cameras, each on its own asset, so each is its own incident key.
    func rules(cameras: Int = 2, technicians: [Technician] = [], tracksInventory: Bool = true) -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = (0..<cameras).map { CameraMapping(camera: "CAM-\($0)", asset: "A\($0)", cmms: "sb") }
        s.assets.cameras[0].area = "line-2"
        var crack = DefectRule()
        crack.parts = [PartRequirement(sku: "PUL-500", qty: 1)]
        crack.skills = ["mechanical"]
        s.defects["crack"] = crack
        s.priority = [PriorityRule(condition: .always, priority: .high, notify: ["supervisor"])]
        let calendar = ShiftCalendar(timeZone: .gmt, shifts: [try! Shift.parse(name: "all", start: "00:00", end: "00:00")])
        let planning = PlanningContext(roster: Roster(technicians), calendar: calendar, tracksInventory: tracksInventory)
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil), planning: planning)
    }

    func det(_ id: String, camera: Int, at t: Date = Date()) -> Detection {
        Detection(detectionId: id, cameraId: "CAM-\(camera)", timestamp: t, defectClass: "crack", confidence: 0.9)
    }

    @Test func theLastUnitGoesToExactlyOneOfManyCompetingIncidents() async throws {
        let store = try Store(path: dir + "/db.sqlite")
        try await store.importInventory([InventoryItem(sku: "PUL-500", onHand: 3, reserved: 2, location: "B-12")])
        let r = rules(cameras: 32)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for i in 0..<32 { g.addTask { _ = try await store.ingest([det("d\(i)", camera: i)], rules: r) } }
            try await g.waitForAll()
        }
        let all = try await store.reservations()
        #expect(all.count == 32)
        #expect(all.filter { $0.status == "reserved" }.count == 1, "one unit free (3 on hand, 2 reserved elsewhere)")
        #expect(all.filter { $0.status == "short" }.count == 31)
        #expect(try await store.stock(sku: "PUL-500")?.reserved == 1)
        // The work order says which it got.
        let winner = try #require(all.first { $0.status == "reserved" })
        let incident = try #require(try await store.incident(id: winner.incidentId))
        let woId = try #require(incident.workOrder?.id)
        let wo = try #require(try await store.workOrder(id: woId))
        #expect(wo.payload?.partsStatus?.first?.status == .reserved)
        #expect(wo.payload?.description.contains("PUL-500 ×1 reserved at B-12") == true)
    }

    @Test func aFalsePositiveGivesThePartBackAndCompletedWorkUsesIt() async throws {
        let store = try Store(path: dir + "/db.sqlite")
        try await store.importInventory([InventoryItem(sku: "PUL-500", onHand: 2)])
        let out = try await store.ingest([det("a", camera: 0), det("b", camera: 1)], rules: rules())
        #expect(try await store.stock(sku: "PUL-500")?.reserved == 2)
        _ = try await store.feedback(incidentId: try #require(out[0].incidentId), falsePositive: true, by: "planner", note: nil)
        #expect(try await store.stock(sku: "PUL-500").map { [$0.onHand, $0.reserved] } == [2, 1])
        let wo = try #require(out[1].workOrderId)
        let claim = try #require(try await store.claimDue(cmms: "sb", limit: 10).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim.fence, action: .create, outcome: .created(cmmsId: "7"), duration: 0.01, policy: DispatchPolicy(), jitter: 0)
        try await store.applyCMMSStatus(workOrderId: wo, status: .completed)
        #expect(try await store.stock(sku: "PUL-500").map { [$0.onHand, $0.reserved] } == [1, 0])
        #expect(try await store.reservations().isEmpty, "nothing held any more")
        #expect(Set(try await store.reservations(status: "released").map(\.incidentId)) == [out[0].incidentId])
        // A re-import of the storeroom export keeps Millwright's own bookkeeping separate.
        try await store.importInventory([InventoryItem(sku: "PUL-500", onHand: 5, reserved: 1)])
        #expect(try await store.stock(sku: "PUL-500")?.free == 4)
    }

    @Test func routingAssignsTheLeastLoadedQualifiedTechnicianAndSaysWhy() async throws {
        let store = try Store(path: dir + "/db.sqlite")
        let techs = [Technician(id: "T-1", name: "Ortiz", skills: ["mechanical"], shift: "all", area: "line-2"),
                     Technician(id: "T-2", name: "Lee", skills: ["mechanical"], shift: "all", area: "line-3"),
                     Technician(id: "T-3", name: "Kim", skills: ["electrical"], shift: "all", area: "line-2")]
        let r = rules(cameras: 3, technicians: techs, tracksInventory: false)
        let first = try await store.ingest([det("a", camera: 0)], rules: r)
        let id1 = try #require(first[0].workOrderId)
        let wo1 = try #require(try await store.workOrder(id: id1)?.payload)
        #expect(wo1.assignee == "T-1", "same area as the asset")
        #expect(wo1.assignmentReason?.contains("mechanical ✓") == true)
        #expect(wo1.assignmentReason?.contains("same area line-2") == true)
        #expect(wo1.description.contains("Assigned: T-1 (Ortiz)"))
        // T-1 now carries a high work order (weight 3): the next one, whose asset area is unknown, goes to T-2.
        let second = try await store.ingest([det("b", camera: 1)], rules: r)
        let id2 = try #require(second[0].workOrderId)
        let wo2 = try #require(try await store.workOrder(id: id2)?.payload)
        #expect(wo2.assignee == "T-2")
        #expect(wo2.assignmentReason?.contains("0 open") == true)
        let load = try await store.assignments()
        #expect(load["T-1"]?.count == 1)
        #expect(load["T-2"]?.count == 1)
        #expect(load["T-3"] == nil, "no electrical work")
    }

    @Test func openWorkTheCMMSReportsCountsWithoutCountingMillwrightsTwice() async throws {
        let store = try Store(path: dir + "/db.sqlite")
        let techs = [Technician(id: "T-1", name: "Ortiz", skills: ["mechanical"], shift: "all"),
                     Technician(id: "T-2", name: "Lee", skills: ["mechanical"], shift: "all")]
        let r = rules(cameras: 3, technicians: techs, tracksInventory: false)
        let first = try await store.ingest([det("a", camera: 0)], rules: r)
        let wo = try #require(first[0].workOrderId)
        let claim2 = try #require(try await store.claimDue(cmms: "sb", limit: 10).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim2.fence, action: .create, outcome: .created(cmmsId: "7"), duration: 0.01, policy: DispatchPolicy(), jitter: 0)
        // The CMMS says T-1 has 3 open (ours among them), T-2 has 4 of its own.
        try await store.replaceExternalLoad(["T-1": 3, "T-2": 4])
        let load = try await store.currentWorkload()
        #expect(load.count("T-1") == 3, "ours (high) + 2 more from the CMMS")
        #expect(load.weighted("T-1") == 3 + 2 * 2)
        #expect(load.count("T-2") == 4)
        let next = try await store.ingest([det("b", camera: 1)], rules: r)
        let id = try #require(next[0].workOrderId)
        #expect(try await store.workOrder(id: id)?.payload?.assignee == "T-1", "7 weighted beats 8")
        try await store.replaceExternalLoad(["T-2": 1])
        #expect(try await store.currentWorkload().count("T-2") == 1, "a new reading replaces the old one")
    }

    @Test func escalationFollowsTheInjectedClockAndStopsAtTheAcknowledgement() async throws {
        let store = try Store(path: dir + "/db.sqlite")
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let techs = [Technician(id: "T-1", name: "Ortiz", skills: ["mechanical"], shift: "all")]
        let out = try await store.ingest([det("a", camera: 0, at: t)], rules: rules(technicians: techs, tracksInventory: false), now: t)
        let wo = try #require(out[0].workOrderId)
        #expect(try await store.workOrdersToNotify(now: t).isEmpty, "not delivered yet")
        let claim3 = try #require(try await store.claimDue(cmms: "sb", limit: 10, now: t).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim3.fence, action: .create, outcome: .created(cmmsId: "7"), duration: 0.01, policy: DispatchPolicy(), jitter: 0, now: t)
        let due = try await store.workOrdersToNotify(now: t + 1)
        #expect(due.map(\.recipients) == [["T-1", "supervisor"]])
        let chain = Escalation(workOrder: wo, stages: [EscalationStage(recipients: ["manager"], delay: 600),
                                                      EscalationStage(recipients: ["plant-manager"], delay: 1200)], startedAt: t + 1)
        try await store.markNotified(workOrderId: wo, sent: [], escalation: chain, now: t + 1)
        #expect(try await store.workOrdersToNotify(now: t + 2).isEmpty, "told once")
        #expect(try await store.dueEscalations(now: t + 600).isEmpty)
        #expect(try await store.nextEscalationDue() == t + 601)
        #expect(try await store.dueEscalations(now: t + 601).count == 1)
        let notices = try await store.advanceEscalation(workOrderId: wo, now: t + 700)
        #expect(notices.map(\.recipients) == [["manager"]])
        #expect(try await store.advanceEscalation(workOrderId: wo, now: t + 700).isEmpty, "a stage is sent once")
        #expect(try await store.acknowledge(workOrderId: wo, by: "T-1", now: t + 800) == .acknowledged(at: t + 800, by: "T-1"))
        #expect(try await store.dueEscalations(now: t + 100_000).isEmpty, "acknowledged: the plant manager is not called")
        if case .already(_, let by) = try await store.acknowledge(workOrderId: wo, by: "T-2", now: t + 900) { #expect(by == "T-1") } else { Issue.record("second ack changed the record") }
    }

    /// Two nodes on one database: a notification claim that ran out during a long pass and was
    /// taken over cannot be renewed by the node that lost it, so only one of them sends.
    @Test func aNotificationClaimTakenOverAfterItsLeaseCannotBeRenewedByItsFormerHolder() async throws {
        let a = try Store(path: dir + "/db.sqlite", node: "node-a", lease: 10)
        let b = try Store(path: dir + "/db.sqlite", node: "node-b", lease: 10)
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let techs = [Technician(id: "T-1", name: "Ortiz", skills: ["mechanical"], shift: "all")]
        let out = try await a.ingest([det("a", camera: 0, at: t)], rules: rules(technicians: techs, tracksInventory: false), now: t)
        let wo = try #require(out[0].workOrderId)
        let claim = try #require(try await a.claimDue(cmms: "sb", limit: 10, now: t).first)
        _ = try await a.recordDelivery(workOrderId: wo, fence: claim.fence, action: .create, outcome: .created(cmmsId: "7"), duration: 0.01, policy: DispatchPolicy(), jitter: 0, now: t)
        let first = try #require(try await a.workOrdersToNotify(now: t + 1).first)
        #expect(first.claimedUntil == t + 11)
        #expect(try await b.workOrdersToNotify(now: t + 5).isEmpty, "claimed by node a")
        #expect(try await a.renewNotifyClaim(workOrderId: wo, claimedUntil: first.claimedUntil, now: t + 6) == t + 16, "still node a's")
        let taken = try #require(try await b.workOrdersToNotify(now: t + 17).first, "node a's lease ran out")
        #expect(try await a.renewNotifyClaim(workOrderId: wo, claimedUntil: t + 16, now: t + 18) == nil, "node b has it now")
        #expect(try await b.renewNotifyClaim(workOrderId: wo, claimedUntil: taken.claimedUntil, now: t + 18) == t + 28)
        try await b.markNotified(workOrderId: wo, sent: [], escalation: nil, now: t + 19)
        #expect(try await b.renewNotifyClaim(workOrderId: wo, claimedUntil: t + 28, now: t + 20) == nil, "notified: nothing to send")
    }

    @Test func minorWorkAtNightIsAnnouncedWhenTheNextShiftStarts() async throws {
        let store = try Store(path: dir + "/db.sqlite")
        // 2026-03-02 is a Monday; the only mechanic works days, 06:00–14:00 UTC.
        let night = ISO8601DateFormatter().date(from: "2026-03-02T23:30:00Z")!
        let morning = ISO8601DateFormatter().date(from: "2026-03-03T06:00:00Z")!
        var r = rules(technicians: [Technician(id: "T-1", name: "Ortiz", skills: ["mechanical"], shift: "day")], tracksInventory: false)
        r.planning?.calendar = ShiftCalendar(timeZone: .gmt, shifts: [try Shift.parse(name: "day", start: "06:00", end: "14:00")])
        let out = try await store.ingest([det("a", camera: 0, at: night)], rules: r, now: night)
        let wo = try #require(out[0].workOrderId)
        #expect(try await store.workOrder(id: wo)?.payload?.assignmentReason?.contains("planned for shift day") == true)
        let claim4 = try #require(try await store.claimDue(cmms: "sb", limit: 10, now: night).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim4.fence, action: .create, outcome: .created(cmmsId: "7"), duration: 0.01, policy: DispatchPolicy(), jitter: 0, now: night)
        #expect(try await store.workOrdersToNotify(now: night + 60).isEmpty, "in the CMMS, but nobody is woken")
        #expect(try await store.workOrdersToNotify(now: morning - 1).isEmpty)
        #expect(try await store.workOrdersToNotify(now: morning).map(\.workOrderId) == [wo])
    }

    @Test func theCMMSMovingToInProgressCountsAsAcknowledgement() async throws {
        let store = try Store(path: dir + "/db.sqlite")
        let t = Date()
        let out = try await store.ingest([det("a", camera: 0, at: t)], rules: rules(tracksInventory: false), now: t)
        let wo = try #require(out[0].workOrderId)
        let claim5 = try #require(try await store.claimDue(cmms: "sb", limit: 10, now: t).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim5.fence, action: .create, outcome: .created(cmmsId: "7"), duration: 0.01, policy: DispatchPolicy(), jitter: 0, now: t)
        try await store.markNotified(workOrderId: wo, sent: [], escalation: Escalation(workOrder: wo, stages: [EscalationStage(recipients: ["x"], delay: 60)], startedAt: t), now: t)
        try await store.applyCMMSStatus(workOrderId: wo, status: .inProgress, now: t + 10)
        #expect(try await store.dueEscalations(now: t + 1000).isEmpty)
        if case .already(_, let by) = try await store.acknowledge(workOrderId: wo, by: "api", now: t + 20) { #expect(by == "cmms") } else { Issue.record("not acknowledged by the CMMS status") }
    }
}
