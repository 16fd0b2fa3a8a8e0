import Foundation
import Logging
import MillwrightCore
import MillwrightTesting
import Store
import StorePostgres
import Testing

/// A store backend under test: a fresh, empty store per call.
struct StoreBackend: Sendable, CustomStringConvertible {
    var description: String
    var make: @Sendable () async throws -> any GatewayStore

    /// Every backend the gateway can run on. A new backend (PostgreSQL) adds itself here and
    /// must pass every test below unchanged.
    static let all: [StoreBackend] = [
        StoreBackend(description: "sqlite") {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-contract-\(UUID().uuidString)").path
            return try Store(path: dir + "/db.sqlite")
        },
        // A fresh schema of the suite's server (`.sharedPostgres`), as a plant's would be.
        StoreBackend(description: "postgres") {
            let server = try SharedPostgres.current()
            var logger = Logger(label: "contract")
            logger.logLevel = .warning
            // Batches queue on each other's locks for long on a machine busy with the whole suite.
            return Store(backend: try await PostgresBackend.connect(server.settings(pool: 8), auditSeal: AuditSeal(key: nil), logger: logger,
                                                                    watchdog: .seconds(120)))
        },
    ]
}

/// The store's guarantees, written against the protocols only (`GatewayStore`), so that
/// each backend proves the same promises: one open incident per key, the last spare
/// reserved once, each outbox item claimed once, no lost or doubled detections, and a
/// linear audit chain, all under concurrent writers.
@Suite(.sharedPostgres) struct StoreContractTests {
    let now = Date()

    func rules(cameras: Int = 1, confirm: Int = 1, parts: Bool = false) -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = (0..<cameras).map { CameraMapping(camera: "CAM-\($0)", asset: "A\($0)", cmms: "sb") }
        var crack = DefectRule()
        crack.confirmDetections = confirm
        if parts { crack.parts = [PartRequirement(sku: "PUL-500", qty: 1)] }
        s.defects["crack"] = crack
        let planning = parts ? PlanningContext(roster: Roster([]), calendar: ShiftCalendar(timeZone: .gmt, shifts: []), tracksInventory: true) : nil
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil), planning: planning)
    }

    func det(_ id: String, camera: Int = 0, at offset: TimeInterval = 0) -> Detection {
        Detection(detectionId: id, cameraId: "CAM-\(camera)", timestamp: now.addingTimeInterval(offset), defectClass: "crack", confidence: 0.9)
    }

    @Test(arguments: StoreBackend.all)
    func concurrentDetectionsOfOneKeyOpenOneIncident(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules()
        let outcomes = try await withThrowingTaskGroup(of: [IngestOutcome].self) { g in
            for i in 0..<24 { g.addTask { try await store.ingest([self.det("d\(i)", at: Double(i) / 100)], rules: r, now: self.now) } }
            return try await g.reduce(into: [IngestOutcome]()) { $0 += $1 }
        }
        #expect(outcomes.count == 24)
        #expect(outcomes.filter { $0.workOrderId != nil }.count == 1, "one work order for one defect")
        #expect(Set(outcomes.compactMap(\.incidentId)).count == 1)
        let open = try await store.incidentsPage(open: true, limit: 10, after: nil).items
        #expect(open.count == 1)
        #expect(open.first?.detectionCount == 24, "every detection is counted on the one incident")
    }

    @Test(arguments: StoreBackend.all)
    func aResubmittedDetectionIsStoredOnce(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules()
        let first = try await store.ingest([det("same")], rules: r, now: now)
        let again = try await store.ingest([det("same")], rules: r, now: now)
        #expect(first.first?.duplicate == false)
        #expect(again.first?.duplicate == true)
        #expect(again.first?.incidentId == first.first?.incidentId)
        #expect(try await store.detectionsPage(DetectionFilter(limit: 10), after: nil).items.count == 1)
    }

    @Test(arguments: StoreBackend.all)
    func batchesSharingDetectionsInOppositeOrderStoreEachOnce(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules(cameras: 4)
        let shared = (0..<8).map { det("s\($0)", camera: $0 % 4, at: Double($0)) }
        // Opposite orders: locks taken as the batch lists them would deadlock here.
        let outcomes = try await withThrowingTaskGroup(of: [IngestOutcome].self) { g in
            for i in 0..<8 {
                let batch = i % 2 == 0 ? shared : shared.reversed()
                g.addTask { try await store.ingest(batch, rules: r, now: self.now) }
            }
            return try await g.reduce(into: [IngestOutcome]()) { $0 += $1 }
        }
        #expect(outcomes.filter { !$0.duplicate }.count == 8, "each detection stored by exactly one batch")
        #expect(try await store.detectionsPage(DetectionFilter(limit: 100), after: nil).items.count == 8)
        #expect(Set(outcomes.compactMap(\.workOrderId)).count == 4, "one work order per camera's key")
        #expect(try await store.verifyAudit(key: nil, checkpoints: []).firstBreak == nil)
    }

    @Test(arguments: StoreBackend.all)
    func batchesOpeningManyIncidentsAtOnceOpenEachOnce(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules(cameras: 80)
        // 80 keys that may open an incident: more than a batch locks one by one.
        let outcomes = try await withThrowingTaskGroup(of: [IngestOutcome].self) { g in
            for b in 0..<3 {
                g.addTask { try await store.ingest((0..<80).map { self.det("b\(b)-\($0)", camera: $0, at: Double(b)) }, rules: r, now: self.now) }
            }
            return try await g.reduce(into: [IngestOutcome]()) { $0 += $1 }
        }
        #expect(outcomes.count == 240)
        #expect(outcomes.compactMap(\.workOrderId).count == 80, "one work order per key")
        let open = try await store.incidentsPage(open: true, limit: 100, after: nil).items
        #expect(open.count == 80)
        #expect(open.allSatisfy { $0.detectionCount == 3 }, "every detection counted once")
    }

    @Test(arguments: StoreBackend.all)
    func repeatsAreCountedUntilTheCMMSIsTold(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules()
        let wo = try #require(try await store.ingest([det("d0")], rules: r, now: now).first?.workOrderId)
        let claim = try #require(try await store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(1)).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim.fence, action: .create, outcome: .created(cmmsId: "WO-1"), duration: 0.1,
                                           policy: DispatchPolicy(), jitter: 0, now: now.addingTimeInterval(2))
        _ = try await store.ingest((1...3).map { det("d\($0)", at: Double($0)) }, rules: r, now: now)
        #expect(try await store.openDelivered(cmms: "sb").first?.repeatsUnnoted == 3)
        try await store.markRepeatsNoted(workOrderId: wo, count: 2, now: now.addingTimeInterval(3))
        _ = try await store.ingest([det("d4", at: 4)], rules: r, now: now)
        #expect(try await store.openDelivered(cmms: "sb").first?.repeatsUnnoted == 2, "3 - 2 noted + 1 more")
        #expect(try await store.workOrder(id: wo)?.repeatsUnnoted == 2)
    }

    @Test(arguments: StoreBackend.all)
    func theLastSpareIsReservedOnce(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await store.importInventory([InventoryItem(sku: "PUL-500", onHand: 1)], source: "test", now: now)
        let r = rules(cameras: 12, parts: true)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for i in 0..<12 { g.addTask { _ = try await store.ingest([self.det("d\(i)", camera: i)], rules: r, now: self.now) } }
            try await g.waitForAll()
        }
        let lines = try await store.reservationsPage(status: nil, limit: 100, after: nil).items
        #expect(lines.count == 12)
        #expect(lines.filter { $0.status == "reserved" }.count == 1)
        #expect(try await store.stock(sku: "PUL-500")?.free == 0)
    }

    @Test(arguments: StoreBackend.all)
    func eachDueWorkOrderIsClaimedByOneDispatcher(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules(cameras: 20)
        _ = try await store.ingest((0..<20).map { det("d\($0)", camera: $0) }, rules: r, now: now)
        let claimed = try await withThrowingTaskGroup(of: [String].self) { g in
            for _ in 0..<6 {
                g.addTask { try await store.claimDue(cmms: "sb", limit: 5, suspects: false, rendersEvidence: false, now: self.now.addingTimeInterval(1)).map(\.workOrderId) }
            }
            return try await g.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(claimed.count == 20, "all twenty claimed")
        #expect(Set(claimed).count == 20, "none twice")
    }

    @Test(arguments: StoreBackend.all)
    func aClaimInterruptedByACrashIsLookedUpBeforeItIsSentAgain(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let out = try await store.ingest([det("d1")], rules: rules(), now: now)
        let wo = try #require(out.first?.workOrderId)
        let first = try await store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(1))
        #expect(first.first?.action == .create)
        // The process dies here; at the next start:
        #expect(try await store.recoverInFlight(.all, now: now.addingTimeInterval(2)) == 1)
        let again = try await store.claimDue(cmms: "sb", limit: 1, suspects: true, rendersEvidence: false, now: now.addingTimeInterval(3))
            + store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(3))
        #expect(again.map(\.workOrderId) == [wo])
        #expect(again.first?.action == .lookup, "it may exist in the CMMS already")
    }

    @Test(arguments: StoreBackend.all)
    func aWorkOrderTheCMMSCannotBeShownNotToHaveWaitsForReview(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let out = try await store.ingest([det("d1")], rules: rules(), now: now)
        let wo = try #require(out.first?.workOrderId)
        let claim = try #require(try await store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(1)).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim.fence, action: .create, outcome: .unknown(error: "timeout"), duration: 1,
                                           policy: DispatchPolicy(), jitter: 0, now: now.addingTimeInterval(2))
        let lookup = try await store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(3600))
        #expect(lookup.first?.action == .lookup)
        let rec = try await store.recordDelivery(workOrderId: wo, fence: try #require(lookup.first).fence, action: .lookup, outcome: .lookupInconclusive(reason: "window exhausted"),
                                                 duration: 1, policy: DispatchPolicy(), jitter: 0, now: now.addingTimeInterval(3601))
        #expect(rec.state.phase == .needsReview)
        #expect(try await store.claimDue(cmms: "sb", limit: 10, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(86_400)).isEmpty)
        #expect(try await store.workOrdersPage(shadow: nil, phase: "needs_review", limit: 10, after: nil).items.map(\.id) == [wo])
        #expect(try await store.redrive(workOrderId: wo, by: "planner", signature: nil, now: now.addingTimeInterval(86_401)))
        let again = try await store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(86_402))
        #expect(again.first?.action == .lookup)
    }

    @Test(arguments: StoreBackend.all)
    func theAuditChainStaysLinearUnderConcurrentWriters(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let r = rules(cameras: 8)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for i in 0..<40 { g.addTask { _ = try await store.ingest([self.det("d\(i)", camera: i % 8, at: Double(i))], rules: r, now: self.now) } }
            try await g.waitForAll()
        }
        let chain = try await store.verifyAudit(key: nil, checkpoints: [])
        #expect(chain.firstBreak == nil)
        #expect(chain.checked >= 40)
    }

    @Test(arguments: StoreBackend.all)
    func aClaimWhoseLeaseRanOutCannotRecordItsOutcome(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let wo = try #require(try await store.ingest([det("d1")], rules: rules(), now: now).first?.workOrderId)
        let claim = try #require(try await store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(1)).first)
        #expect(try await store.recoverInFlight(.expired, now: now.addingTimeInterval(2)) == 0, "a live lease is left alone")
        // The claiming node pauses past its lease; a live node takes the work order over.
        let expired = now.addingTimeInterval(1 + store.lease + 1)
        #expect(try await store.recoverInFlight(.expired, now: expired) == 1)
        #expect(try await !store.renewDeliveryClaim(workOrderId: wo, fence: claim.fence, now: expired),
                "the paused node may not call the CMMS any more")
        let draft = claim.draft
        #expect(try await !store.recordEvidence(incidentId: claim.incidentId, workOrderId: wo, fence: claim.fence, sha256: "ab", usedFrame: false,
                                                note: "", draft: draft, now: expired),
                "nor after rendering its evidence")
        let late = try await store.recordDelivery(workOrderId: wo, fence: claim.fence, action: .create, outcome: .created(cmmsId: "77"),
                                                  duration: 1, policy: DispatchPolicy(), jitter: 0, now: expired.addingTimeInterval(1))
        #expect(late.stale, "the paused node's outcome is refused")
        #expect(try await store.workOrder(id: wo)?.cmmsId == nil, "and nothing of it is recorded")
        let taken = try #require(try await store.claimDue(cmms: "sb", limit: 1, suspects: true, rendersEvidence: false, now: expired.addingTimeInterval(2)).first)
        #expect(taken.action == .lookup, "the new holder asks the CMMS first: the paused node may have created it")
        #expect(taken.fence > claim.fence)
        #expect(try await store.renewDeliveryClaim(workOrderId: wo, fence: taken.fence, now: expired.addingTimeInterval(2)), "the holder's claim is renewed")
        #expect(try await store.recordEvidence(incidentId: taken.incidentId, workOrderId: wo, fence: taken.fence, sha256: "ab", usedFrame: false,
                                               note: "", draft: draft, now: expired.addingTimeInterval(2)), "also with its evidence")
        let rec = try await store.recordDelivery(workOrderId: wo, fence: taken.fence, action: .lookup, outcome: .lookupFound(cmmsId: "77"),
                                                 duration: 1, policy: DispatchPolicy(), jitter: 0, now: expired.addingTimeInterval(3))
        #expect(!rec.stale)
        #expect(rec.state.phase == .delivered)
    }

    @Test(arguments: StoreBackend.all)
    func nodesAreListedByTheirHeartbeats(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await store.heartbeat(version: "test", startedAt: now, now: now)
        let nodes = try await store.liveNodes(window: 15, now: now.addingTimeInterval(5))
        #expect(nodes.map(\.nodeId) == [store.node])
        #expect(nodes.first?.isSelf == true)
        #expect(nodes.first.map { abs($0.lagSeconds - 5) < 0.01 } == true)
        #expect(try await store.liveNodes(window: 15, now: now.addingTimeInterval(60)).isEmpty, "a node not heard from is gone")
    }

    @Test(arguments: StoreBackend.all)
    func aRestartedNodeTakesBackOnlyItsOwnLiveClaims(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.ingest([det("d1")], rules: rules(), now: now)
        _ = try #require(try await store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(1)).first)
        // Within the lease: another node's start leaves it alone (the claim is live) …
        #expect(try await store.recoverInFlight(.expired, now: now.addingTimeInterval(2)) == 0)
        // … and this node, restarted under the same node_id, takes it back at once.
        #expect(try await store.recoverInFlight(.expiredOrMine, now: now.addingTimeInterval(2)) == 1)
    }

    /// Held digests are kept per node: two nodes never overwrite each other's, and a gone
    /// node's (left, or silent past the window) are taken over by exactly one other node.
    /// What the UNS `state` and the Sparkplug device metrics show: open incidents and the
    /// highest severity among them, and work orders not yet delivered, per camera.
    @Test(arguments: StoreBackend.all)
    func cameraFloorCountsCountOpenIncidentsAndUndeliveredWorkOrders(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        var r = rules(cameras: 2)
        r.settings.defects["corrosion"] = DefectRule()
        _ = try await store.ingest([det("c1", camera: 0)], rules: r, now: now)
        var other = det("c2", camera: 0)
        other.defectClass = "corrosion"
        _ = try await store.ingest([other], rules: r, now: now)
        let counts = try await store.cameraFloorCounts(cameras: ["CAM-0", "CAM-1", "CAM-9"])
        let open = try await store.incidentsPage(open: true, limit: 10, after: nil).items
        #expect(counts["CAM-0"]?.openIncidents == 2)
        #expect(counts["CAM-0"]?.severity == open.map(\.severity).max())
        #expect(counts["CAM-0"]?.pendingWorkOrders == 2)
        #expect(counts["CAM-1"] == Store.CameraFloorCounts(), "a camera with nothing open has zeros")
        #expect(counts["CAM-9"] == Store.CameraFloorCounts())
        #expect(try await store.cameraFloorCounts(cameras: []).isEmpty)
    }

    @Test(arguments: StoreBackend.all)
    func heldValuesAreKeptPerNodeAndAGoneNodesAreTakenOverOnce(_ backend: StoreBackend) async throws {
        let shared = try #require(try await backend.make() as? Store)
        let (a, b, c) = (Store(backend: shared.backend, node: "node-a"), Store(backend: shared.backend, node: "node-b"),
                         Store(backend: shared.backend, node: "node-c"))
        for s in [a, b, c] { try await s.heartbeat(version: "test", startedAt: now, now: now) }
        func text(_ d: Data?) -> String? { d.map { String(decoding: $0, as: UTF8.self) } }
        // Joins this node's copy and the orphans', so the test sees what was merged.
        let merge: @Sendable (Data?, [Data]) throws -> Data = { own, orphans in
            Data(((own.map { String(decoding: $0, as: UTF8.self) } ?? "-") + "+" + orphans.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",")).utf8)
        }

        try await a.saveValue(a.nodeValueKey("held"), Data("a1".utf8))
        try await b.saveValue(b.nodeValueKey("held"), Data("b1".utf8))
        #expect(text(try await a.loadValue(a.nodeValueKey("held"))) == "a1")
        #expect(text(try await b.loadValue(b.nodeValueKey("held"))) == "b1", "node b's copy is its own")
        #expect(try await a.adoptOrphanedValues("held", window: 60, now: now, merge: merge) == nil, "nothing to take while b is live")

        // b leaves: a and c both try to take its copy at once; exactly one gets it.
        try await b.leaveCluster()
        async let byA = try? a.adoptOrphanedValues("held", window: 60, now: now, merge: merge)
        async let byC = try? c.adoptOrphanedValues("held", window: 60, now: now, merge: merge)
        let results = [text(await byA ?? nil), text(await byC ?? nil)]
        #expect(results.compactMap { $0 }.count == 1, "\(results)")
        #expect(results.contains("a1+b1") || results.contains("-+b1"), "\(results)")
        #expect(try await b.loadValue(b.nodeValueKey("held")) == nil, "b's copy is gone once taken")
        let winner = results[0] != nil ? a : c
        #expect(text(try await winner.loadValue(winner.nodeValueKey("held"))) == results.compactMap { $0 }.first, "saved in the same step")

        // A node silent past the window is gone too, and so is the copy from before nodes had their own.
        try await c.saveValue(c.nodeValueKey("held"), Data("c1".utf8))
        try await a.saveValue("held", Data("old".utf8))
        try await c.heartbeat(version: "test", startedAt: now, now: now.addingTimeInterval(-120))
        let later = try await a.adoptOrphanedValues("held", window: 60, now: now, merge: merge)
        #expect(text(later)?.hasSuffix("+c1,old") == true || text(later)?.hasSuffix("+old,c1") == true, "\(text(later) ?? "nil")")
        #expect(try await a.loadValue("held") == nil)
        #expect(try await a.adoptOrphanedValues("held", window: 60, now: now, merge: merge) == nil, "taken once")
    }
}

/// The board's two queries, on every backend.
@Suite(.sharedPostgres) struct BoardQueryTests {
    let now = Date()

    @Test(arguments: StoreBackend.all)
    func orphansAreGroupedByCameraAndReasonAndTheBoardHoldsOpenAndRecentlyClosedIncidents(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-0", asset: "A0", cmms: "sb"), CameraMapping(camera: "CAM-1", asset: "A1", cmms: "sb")]
        s.defects["crack"] = DefectRule()
        let rules = PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil), planning: nil)
        func det(_ id: String, _ camera: String, at offset: TimeInterval) -> Detection {
            Detection(detectionId: id, cameraId: camera, timestamp: now.addingTimeInterval(offset), defectClass: "crack", confidence: 0.9)
        }
        _ = try await store.ingest((0..<5).map { det("x\($0)", "CAM-X", at: Double($0)) } + (0..<2).map { det("y\($0)", "CAM-Y", at: 10 + Double($0)) },
                                   rules: rules, now: now)
        let groups = try await store.orphanGroups(limit: 10)
        #expect(groups.map(\.cameraId) == ["CAM-Y", "CAM-X"], "the most recently seen first")
        #expect(groups.map(\.count) == [2, 5])
        let x = try #require(groups.last)
        #expect(abs(x.firstSeen.timeIntervalSince(now)) < 0.01 && abs(x.lastSeen.timeIntervalSince(now.addingTimeInterval(4))) < 0.01)
        #expect(x.reason.contains("CAM-X"))
        #expect(try await store.orphanGroups(limit: 1).count == 1)

        let opened = try await store.ingest([det("a", "CAM-0", at: 0), det("b", "CAM-1", at: 1)], rules: rules, now: now)
        let closedId = try #require(opened[0].incidentId), openId = try #require(opened[1].incidentId)
        _ = try await store.feedback(incidentId: closedId, falsePositive: true, by: "t", note: nil, signature: nil, now: now)
        let board = try await store.boardIncidents(closedSince: now.addingTimeInterval(-60), limit: 10)
        #expect(board.map(\.id) == [openId, closedId], "open first, then closed since")
        #expect(try await store.boardIncidents(closedSince: now.addingTimeInterval(60), limit: 10).map(\.id) == [openId])
    }
}
