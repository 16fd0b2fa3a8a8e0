import Foundation
import MillwrightCore
import MillwrightTesting
import Store
import Testing

/// The manual inspection log and the shadow report's reads, on every backend.
@Suite(.sharedPostgres) struct ShadowStoreTests {
    let now = Date()

    func rules(shadow: Bool) -> PipelineRules {
        var s = Settings()
        s.shadow = shadow
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-1", asset: "P-101", cmms: "sb"), CameraMapping(camera: "CAM-2", asset: "P-102", cmms: "sb")]
        var crack = DefectRule()
        crack.minConfidence = 0.5
        s.defects["crack"] = crack
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil))
    }

    func det(_ id: String, camera: Int, conf: Double, at offset: TimeInterval) -> Detection {
        Detection(detectionId: id, cameraId: "CAM-\(camera)", timestamp: now.addingTimeInterval(offset), defectClass: "crack", confidence: conf)
    }

    func finding(_ offset: TimeInterval, asset: String, by: String = "ann", line: Int) -> ManualFinding {
        ManualFinding(foundAt: Date(timeIntervalSince1970: (now.timeIntervalSince1970 + offset).rounded()), dateOnly: false,
                      asset: asset, defectClass: "crack", foundBy: by, notes: "seen on the round", line: line)
    }

    @Test(arguments: StoreBackend.all)
    func anImportIsAuditedAndASecondImportAddsNothing(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let log = [finding(-3600, asset: "P-101", line: 2), finding(-1800, asset: "P-102", line: 3)]
        let first = try await store.importManualLog(log, fileSHA256: "abc", by: "planner", now: now)
        #expect(first == ManualLogImport(rows: 2, imported: 2, duplicates: 0))
        let again = try await store.importManualLog(log + [finding(-600, asset: "P-102", by: "bob", line: 4)], fileSHA256: "def", by: "planner", now: now)
        #expect(again == ManualLogImport(rows: 3, imported: 1, duplicates: 2))
        let records = try await store.auditRecords(AuditQuery(kind: "shadow.manual_log"))
        #expect(records.count == 2)
        #expect(records.first?.data["imported"] == .number(2) && records.first?.data["by"] == .string("planner"))
        let facts = try await store.shadowFacts(since: now.addingTimeInterval(-86_400), until: now, maxLead: 0, maxLag: 0, mode: .shadow, limit: 100)
        #expect(facts.findings.map(\.foundBy) == ["ann", "ann", "bob"])
        #expect(facts.findings.first?.notes == "seen on the round" && facts.findings.first?.line == 2)
    }

    @Test(arguments: StoreBackend.all)
    func theReportSeesShadowIncidentsVerdictsAndWhyAFindingWasMissed(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let shadow = rules(shadow: true)
        let a = try await store.ingest([det("a", camera: 1, conf: 0.9, at: -7200)], rules: shadow, now: now.addingTimeInterval(-7200))
        _ = try await store.ingest([det("low", camera: 2, conf: 0.2, at: -7000)], rules: shadow, now: now.addingTimeInterval(-7000))
        let ia = try #require(a.first?.incidentId)
        _ = try await store.feedback(incidentId: ia, falsePositive: false, by: "planner", note: nil, signature: nil, now: now)
        // A live incident is not part of the shadow run.
        _ = try await store.ingest([det("live", camera: 2, conf: 0.9, at: -60)], rules: rules(shadow: false), now: now.addingTimeInterval(-60))
        _ = try await store.importManualLog([finding(-3600, asset: "P-101", line: 2), finding(-3600, asset: "P-102", line: 3)],
                                            fileSHA256: "abc", by: "planner", now: now)

        let since = now.addingTimeInterval(-86_400)
        let facts = try await store.shadowFacts(since: since, until: now, maxLead: 86_400, maxLag: 3600, mode: .shadow, limit: 100)
        #expect(facts.incidents.map(\.id) == [ia] && facts.incidents.first?.shadow == true && facts.incidents.first?.verdict == .confirmed)
        let p102 = facts.tallies.first { $0.asset == "P-102" }
        #expect(p102?.byStatus["below_threshold"] == 1)
        let report = ShadowReport.compute(findings: facts.findings, incidents: facts.incidents, watched: ["P-101", "P-102"], tallies: facts.tallies,
                                          since: since, until: now, mode: "shadow", maxLead: 86_400, maxLag: 3600)
        #expect(report.caughtFirst.map(\.incidentId) == [ia])
        #expect(abs((report.caughtFirst.first?.leadSeconds ?? 0) - 3600) < 2)
        #expect(report.missed.map(\.reason) == ["not_confirmed"], "P-102 was detected below the threshold; the live incident is not counted")

        let live = try await store.shadowFacts(since: since, until: now, maxLead: 86_400, maxLag: 3600, mode: .live, limit: 100)
        #expect(live.incidents.map(\.asset) == ["P-102"])
        let truncated = try await store.shadowFacts(since: since, until: now, maxLead: 86_400, maxLag: 3600, mode: .shadow, limit: 1)
        #expect(truncated.truncated && truncated.findings.count == 1)
    }
}
