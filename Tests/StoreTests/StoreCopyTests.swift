import Foundation
import MillwrightCore
import Testing
@testable import Store

/// `millwright migrate`: a plant's store arrives whole, its audit chain verified, and a
/// target that holds data is refused unless the copy is resumed.
@Suite struct StoreCopyTests {
    let now = Date()

    func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("mw-copy-\(UUID().uuidString)/db.sqlite").path
    }

    func rules() -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = (0..<3).map { CameraMapping(camera: "CAM-\($0)", asset: "A\($0)", cmms: "sb") }
        s.defects["crack"] = DefectRule()
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil), planning: nil)
    }

    /// A store with detections, incidents, work orders in several phases, attempts, feedback
    /// and a sealed audit trail: more rows than one page.
    func populated(key: AuditKey?) async throws -> Store {
        let store = try Store(path: tempPath(), auditKey: key)
        try await store.prepareAuditTrail()
        for i in 0..<30 {
            _ = try await store.ingest((0..<3).map { c in
                Detection(detectionId: "d\(i)-\(c)", cameraId: "CAM-\(c)", timestamp: now.addingTimeInterval(Double(i)), defectClass: "crack", confidence: 0.9)
            }, rules: rules(), now: now.addingTimeInterval(Double(i)))
        }
        for claim in try await store.claimDue(cmms: "sb", limit: 2, now: now.addingTimeInterval(60)) {
            _ = try await store.recordDelivery(workOrderId: claim.workOrderId, fence: claim.fence, action: .create, outcome: .created(cmmsId: "7"),
                                               duration: 0.01, policy: DispatchPolicy(), jitter: 0, now: now.addingTimeInterval(61))
        }
        let incident = try #require(try await store.incidents(open: true, limit: 1).first)
        _ = try await store.feedback(incidentId: incident.id, falsePositive: true, by: "planner", note: "glare", now: now.addingTimeInterval(62))
        return store
    }

    @Test func everyTableArrivesAndTheAuditChainEndsInTheSameHead() async throws {
        let key = try #require(AuditKey(secret: "copy-test-key-0123456789abcdef0123456789"))
        let source = try await populated(key: key)
        let target = try SQLiteBackend(path: tempPath(), auditSeal: AuditSeal(key: key))
        let summary = try await StoreCopy.copy(from: source.backend, to: target, auditKey: key, resume: false, pageSize: 16)
        #expect(summary.rows["detections"] == 90)
        #expect(summary.audit.firstBreak == nil)
        let copied = Store(backend: target, auditKey: key)
        #expect(try await copied.stats() == (try await source.stats()))
        let copiedIds = try await copied.incidents(open: nil, limit: 1000).map(\.id).sorted()
        let sourceIds = try await source.incidents(open: nil, limit: 1000).map(\.id).sorted()
        #expect(copiedIds == sourceIds)
        #expect(summary.audit.checked == (try await source.verifyAudit(key: key)).checked)
        // The copy goes on where the source stopped: a new decision extends the same chain.
        _ = try await copied.ingest([Detection(detectionId: "after", cameraId: "CAM-0", timestamp: now.addingTimeInterval(500), defectClass: "crack", confidence: 0.9)],
                                    rules: rules(), now: now.addingTimeInterval(500))
        #expect(try await copied.verifyAudit(key: key).firstBreak == nil)
    }

    @Test func aTargetHoldingDataIsRefusedUnlessResumed() async throws {
        let source = try await populated(key: nil)
        let target = try SQLiteBackend(path: tempPath(), auditSeal: .sha256)
        // Interrupted part way: some detections arrived.
        let first = try await source.read { db in try db.rows("SELECT * FROM detections ORDER BY id LIMIT 5") }
        try await target.write { db in
            for row in first {
                try db.run("INSERT INTO detections (\(row.names.joined(separator: ", "))) VALUES (\(row.names.map { _ in "?" }.joined(separator: ", ")))",
                           SQLArguments(row.values))
            }
        }
        await #expect { try await StoreCopy.copy(from: source.backend, to: target, auditKey: nil, resume: false) } throws: {
            "\($0)".contains("5 row(s) in detections") && "\($0)".contains("--resume")
        }
        let summary = try await StoreCopy.copy(from: source.backend, to: target, auditKey: nil, resume: true)
        #expect(summary.audit.firstBreak == nil)
        #expect(try await Store(backend: target).stats().detectionsByStatus == (try await source.stats()).detectionsByStatus)
    }
}
