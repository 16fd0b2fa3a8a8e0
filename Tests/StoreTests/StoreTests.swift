import Foundation
import MillwrightCore
import Store
import Testing

/// The store makes the decisions inside its write transaction; these tests drive it
/// directly, with real SQLite files.
@Suite struct StoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-store-\(UUID().uuidString)").path

    func makeStore() throws -> Store { try Store(path: dir + "/db.sqlite") }

    func rules(confirm: Int = 1, shadow: Bool = false, register: AssetRegister? = nil) -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-07", asset: "A1", zones: ["hp": "A1-HP"], cmms: "sb", criticality: .a)]
        var crack = DefectRule()
        crack.minConfidence = 0.8
        crack.confirmDetections = confirm
        crack.confirmWithin = .seconds(10)
        crack.severityBase = 70
        s.defects["crack"] = crack
        s.shadow = shadow
        s.incidents.reopenAfter = .seconds(60)
        s.priority = [PriorityRule(condition: try! Condition.parse("severity >= 85"), priority: .critical), PriorityRule(condition: .always, priority: .medium)]
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: register))
    }

    func det(_ id: String?, at t: Date = Date(), conf: Double = 0.9, camera: String = "CAM-07", zone: String? = nil) -> Detection {
        Detection(detectionId: id, cameraId: camera, timestamp: t, defectClass: "crack", confidence: conf, zone: zone)
    }

    @Test func confirmationOpensOneIncidentAndLinksThePendingDetections() async throws {
        let store = try makeStore()
        let t = Date()
        let r = rules(confirm: 3)
        let out = try await store.ingest([det("d1", at: t), det("d2", at: t + 1), det("low", at: t + 1.5, conf: 0.5), det("d3", at: t + 2)], rules: r, now: t + 2)
        #expect(out.map(\.status) == [.pendingConfirmation, .pendingConfirmation, .belowThreshold, .confirmed])
        let incidentId = try #require(out[3].incidentId)
        let incident = try #require(try await store.incident(id: incidentId))
        #expect(Set(incident.detections?.map(\.id) ?? []) == ["d1", "d2", "d3"])
        #expect(incident.workOrder?.phase == "pending")
        #expect(incident.severity >= 85) // base 70 + criticality A
        #expect(incident.priority == "critical")
        let more = try await store.ingest([det("d4", at: t + 3)], rules: r, now: t + 3)
        #expect(more[0].status == .suppressedRepeat)
        #expect(more[0].incidentId == incidentId)
        #expect(try await store.incident(id: incidentId)?.detectionCount == 2)
    }

    @Test func pendingDetectionsOutsideTheWindowDoNotConfirm() async throws {
        let store = try makeStore()
        let t = Date()
        let out = try await store.ingest([det("a", at: t - 30), det("b", at: t - 15), det("c", at: t)], rules: rules(confirm: 3), now: t)
        #expect(out.map(\.status) == [.pendingConfirmation, .pendingConfirmation, .pendingConfirmation])
    }

    @Test func detectionIdIsAnIdempotencyKey() async throws {
        let store = try makeStore()
        let first = try await store.ingest([det("same")], rules: rules(), now: Date())
        let again = try await store.ingest([det("same")], rules: rules(), now: Date())
        #expect(!first[0].duplicate)
        #expect(again[0].duplicate)
        #expect(try await store.stats().detectionsTotal == 1)
        #expect(try await store.workOrders().count == 1)
    }

    @Test func sixtyFourConcurrentIngestsOfANewKeyMakeOneIncident() async throws {
        let store = try makeStore()
        let r = rules()
        let t = Date()
        let outcomes = try await withThrowingTaskGroup(of: IngestOutcome.self) { g in
            for i in 0..<64 { g.addTask { try await store.ingest([det("c\(i)", at: t)], rules: r, now: t)[0] } }
            var all: [IngestOutcome] = []
            for try await o in g { all.append(o) }
            return all
        }
        #expect(outcomes.filter { $0.status == .confirmed }.count == 1)
        #expect(outcomes.filter { $0.status == .suppressedRepeat }.count == 63)
        #expect(try await store.incidents().count == 1)
        #expect(try await store.workOrders().count == 1)
        #expect(try await store.incidents().first?.detectionCount == 64)
    }

    @Test func reopenAfterClosureRespectsTheDelay() async throws {
        let store = try makeStore()
        let t = Date()
        let first = try await store.ingest([det("x1", at: t)], rules: rules(), now: t)
        let wo = try #require(first[0].workOrderId)
        let claim = try #require(try await store.claimDue(cmms: "sb", limit: 10, now: t).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim.fence, action: .create, outcome: .created(cmmsId: "77"), duration: 0.01, policy: DispatchPolicy(), jitter: 0, now: t)
        try await store.applyCMMSStatus(workOrderId: wo, status: .completed, now: t + 10)
        let soon = try await store.ingest([det("x2", at: t + 30)], rules: rules(), now: t + 30)
        #expect(soon[0].status == .suppressedRepeat)
        #expect(soon[0].incidentId == first[0].incidentId)
        let later = try await store.ingest([det("x3", at: t + 71)], rules: rules(), now: t + 71)
        #expect(later[0].status == .confirmed)
        #expect(later[0].incidentId != first[0].incidentId)
        #expect(try await store.incidents().count == 2)
    }

    @Test func workOrderOutcomesStayUnannouncedUntilTheFloorConfirms() async throws {
        let store = try makeStore()
        let t = Date()
        let wo = try #require(try await store.ingest([det("f1", at: t)], rules: rules(), now: t)[0].workOrderId)
        #expect(try await store.unannouncedWorkOrders().isEmpty, "nothing decided yet")
        let claim2 = try #require(try await store.claimDue(cmms: "sb", limit: 10, now: t).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim2.fence, action: .create, outcome: .permanent(error: "400 bad asset"), duration: 0.01, policy: DispatchPolicy(), jitter: 0, now: t)
        #expect(try await store.unannouncedWorkOrders().map(\.phase) == ["dead_letter"])
        try await store.markAnnounced(workOrderId: wo, phase: "dead_letter")
        #expect(try await store.unannouncedWorkOrders().isEmpty)
        // Re-driven and delivered: the new outcome is news again.
        #expect(try await store.redrive(workOrderId: wo, by: "test", now: t + 1))
        let claim3 = try #require(try await store.claimDue(cmms: "sb", limit: 10, now: t + 2).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim3.fence, action: .create, outcome: .created(cmmsId: "9"), duration: 0.01, policy: DispatchPolicy(), jitter: 0, now: t + 2)
        let news = try await store.unannouncedWorkOrders()
        #expect(news.map(\.phase) == ["delivered"])
        #expect(news.first?.cmmsId == "9")
        // A stale confirmation (for the earlier phase) does not hide the new one.
        try await store.markAnnounced(workOrderId: wo, phase: "dead_letter")
        #expect(try await store.unannouncedWorkOrders().count == 1)
    }

    @Test func incidentStatesStayUnannouncedUntilTheFloorConfirms() async throws {
        let store = try makeStore()
        let t = Date()
        let out = try await store.ingest([det("i1", at: t)], rules: rules(), now: t)
        let id = try #require(out[0].incidentId)
        #expect(try await store.unannouncedIncidents().map(\.state) == ["open"])
        try await store.markIncidentAnnounced(incidentId: id, state: "open")
        #expect(try await store.unannouncedIncidents().isEmpty)
        _ = try await store.feedback(incidentId: id, falsePositive: true, by: "planner", note: nil, now: t + 1)
        #expect(try await store.unannouncedIncidents().map(\.state) == ["closed"], "a new state is news again")
        try await store.markIncidentAnnounced(incidentId: id, state: "closed")
        let shadow = try await store.ingest([det("s1", at: t, zone: "hp")], rules: rules(shadow: true), now: t)
        #expect(shadow[0].incidentId != nil)
        #expect(try await store.unannouncedIncidents().isEmpty, "shadow incidents are not announced")
    }

    @Test func zonesAndOrphansAreSeparateKeys() async throws {
        let store = try makeStore()
        let register = AssetRegister(records: [AssetRecord(assetId: "A1", line: 2)])
        let out = try await store.ingest([det("z1", zone: "hp"), det("z2"), det("o1", camera: "CAM-99")], rules: rules(register: register), now: Date())
        // A1-HP (the zone's sub-asset) is not in the register: orphaned, not silently mapped elsewhere.
        #expect(out.map(\.status) == [.orphaned, .confirmed, .orphaned])
        #expect(try await store.detections(DetectionFilter(status: .orphaned)).count == 2)
    }

    @Test func shadowModeRecordsWhatWouldHaveBeenSent() async throws {
        let store = try makeStore()
        let out = try await store.ingest([det("s1")], rules: rules(shadow: true), now: Date())
        #expect(out[0].status == .shadow)
        #expect(try await store.workOrders(shadow: true).count == 1)
        #expect(try await store.claimDue(cmms: "sb", limit: 10).isEmpty)
    }

    @Test func unknownOutcomeIsVerifiedAfterARestart() async throws {
        let t = Date()
        do {
            let store = try makeStore()
            _ = try await store.ingest([det("r1", at: t)], rules: rules(), now: t)
            let claimed = try await store.claimDue(cmms: "sb", limit: 10, now: t)
            #expect(claimed.map(\.action) == [.create])
            // The process dies here, mid-request.
        }
        let reopened = try makeStore()
        #expect(try await reopened.recoverInFlight(.all, now: t) == 1)
        // In flight at a crash: a suspect, delivered on its own, and never with the normal flow.
        #expect(try await reopened.claimDue(cmms: "sb", limit: 10, now: t + 1).isEmpty)
        #expect(try await reopened.hasSuspects(cmms: "sb", now: t + 1))
        let again = try await reopened.claimDue(cmms: "sb", limit: 10, suspects: true, now: t + 1)
        #expect(again.map(\.action) == [.lookup])
    }

    @Test func feedbackClosesAsFalsePositive() async throws {
        let store = try makeStore()
        let out = try await store.ingest([det("f1")], rules: rules(), now: Date())
        let id = try #require(out[0].incidentId)
        let t = try await store.feedback(incidentId: id, falsePositive: true, by: "planner", note: "reflection")
        #expect(t == .moved(from: .open, to: .closed))
        #expect(try await store.incident(id: id)?.resolution == "false_positive")
        await #expect(throws: StoreError.self) { try await store.feedback(incidentId: "nope", falsePositive: true, by: nil, note: nil) }
    }

    @Test func auditChainSurvivesAndCatchesTampering() async throws {
        let store = try makeStore()
        _ = try await store.ingest((0..<20).map { det("a\($0)") }, rules: rules(), now: Date())
        let ok = try await store.verifyAudit()
        #expect(ok.firstBreak == nil)
        #expect(ok.checked > 20)
        // The triggers refuse edits; an attacker with file access drops them first.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [dir + "/db.sqlite", "DROP TRIGGER audit_no_update; UPDATE audit SET data = replace(data, '0.9', '0.2') WHERE seq = 7;"]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        let broken = try await makeStore().verifyAudit()
        #expect(broken.firstBreak?.seq == 7)
    }
}
