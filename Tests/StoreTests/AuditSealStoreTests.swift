import Foundation
import MillwrightCore
import Store
import Testing

/// The sealed audit trail on real SQLite files: HMAC records, the seal marker, writers that
/// must not extend a sealed trail, and the checkpoint file.
@Suite struct AuditSealStoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-seal-\(UUID().uuidString)").path
    let key = AuditKey(secret: "0123456789abcdef-audit-key")!
    let other = AuditKey(secret: "fedcba9876543210-other-key")!
    var dbPath: String { dir + "/db.sqlite" }

    func rules() -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-07", asset: "A1", cmms: "sb", criticality: .a)]
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil))
    }

    /// Detections on distinct defects, so each writes several records.
    func ingest(_ store: Store, _ n: Int, prefix: String) async throws {
        let t = Date()
        _ = try await store.ingest((0..<n).map { Detection(detectionId: "\(prefix)\($0)", cameraId: "CAM-07", timestamp: t, defectClass: "d\(prefix)\($0)", confidence: 0.9) },
                                   rules: rules(), now: t)
    }

    /// What someone with the database file but without the key can do (the triggers refuse; they drop them).
    func sqlite(_ sql: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [dbPath, "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; " + sql]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test func aKeyedStoreSealsItsRecordsWithTheKey() async throws {
        let store = try Store(path: dbPath, auditKey: key)
        #expect(try await store.prepareAuditTrail() == 1)
        try await ingest(store, 5, prefix: "a")
        let ok = try await store.verifyAudit(key: key)
        #expect(ok.firstBreak == nil)
        #expect(ok.sealedFrom == 1)
        #expect(ok.checked > 10)
        #expect(try await store.verifyAudit(key: other).firstBreak?.seq == 1)
        #expect(try await store.verifyAudit().firstBreak?.reason.contains("sealed with an audit key") == true)
        #expect(try await store.auditSealedFrom() == 1)
    }

    @Test func aPlainTrailIsSealedFromTheMarkerOn() async throws {
        let plain = try Store(path: dbPath)
        #expect(try await plain.prepareAuditTrail() == nil)
        try await ingest(plain, 3, prefix: "a")
        let before = try await plain.verifyAudit().checked
        #expect(try await plain.verifyAudit(key: key).firstBreak?.reason.contains("not sealed") == true)

        let keyed = try Store(path: dbPath, auditKey: key)
        #expect(try await keyed.prepareAuditTrail() == Int64(before + 1))
        #expect(try await keyed.prepareAuditTrail() == Int64(before + 1), "opening again writes no second marker")
        try await ingest(keyed, 3, prefix: "b")
        let ok = try await keyed.verifyAudit(key: key)
        #expect(ok.firstBreak == nil)
        #expect(ok.sealedFrom == Int64(before + 1))

        // Editing a record from before the key, even with the plain chain recomputed up to the
        // marker, breaks the marker's HMAC.
        try sqlite("UPDATE audit SET subject = 'forged' WHERE seq = 2;")
        #expect(try await keyed.verifyAudit(key: key).firstBreak?.seq == 2)
    }

    @Test func writersWithoutTheKeyOrWithAnotherAreRefused() async throws {
        let keyed = try Store(path: dbPath, auditKey: key)
        try await keyed.prepareAuditTrail()
        try await ingest(keyed, 2, prefix: "a")
        await #expect {
            try await Store(path: dbPath).prepareAuditTrail()
        } throws: { "\($0)".contains("sealed with a key from record 1") }
        await #expect {
            try await Store(path: dbPath, auditKey: other).prepareAuditTrail()
        } throws: { "\($0)".contains("does not seal the audit trail's last record") }
    }

    @Test func checkpointsCatchRecordsDeletedUpToThem() async throws {
        let store = try Store(path: dbPath, auditKey: key)
        try await store.prepareAuditTrail()
        try await ingest(store, 10, prefix: "a")
        let file = AuditCheckpointFile(path: dir + "/audit.checkpoints")
        let cp = try await store.appendAuditCheckpoint(key: key, to: file)
        try await ingest(store, 2, prefix: "b")
        try await store.appendAuditCheckpoint(key: key, to: file)
        let parsed = AuditCheckpoint.parse(try #require(try file.read()), key: key)
        #expect(parsed.problems.isEmpty)
        #expect(parsed.checkpoints.map(\.line) == [1, 2])
        #expect(parsed.checkpoints[0].seq == cp.seq)
        let ok = try await store.verifyAudit(key: key, checkpoints: parsed.checkpoints)
        #expect(ok.firstBreak == nil)
        #expect(ok.checkpointsMatched == 2)

        try sqlite("DELETE FROM audit WHERE seq > \(cp.seq - 3);")
        let b = try await store.verifyAudit(key: key, checkpoints: parsed.checkpoints).firstBreak
        #expect(b?.seq == cp.seq - 2)
        #expect(b?.reason.contains("were deleted") == true)
    }

    @Test func aCheckpointIsNotSignedOverADamagedHead() async throws {
        let store = try Store(path: dbPath, auditKey: key)
        try await store.prepareAuditTrail()
        try await ingest(store, 3, prefix: "a")
        try sqlite("DELETE FROM audit WHERE seq = 2;")
        await #expect { try await store.auditCheckpoint(key: key) } throws: { "\($0)".contains("records were removed") }
        try sqlite("UPDATE audit SET hash = prev_hash WHERE seq = (SELECT MAX(seq) FROM audit);")
        await #expect { try await store.auditCheckpoint(key: key) } throws: { "\($0)".contains("does not seal") }
    }

    @Test func aTornLineDoesNotSwallowTheNextCheckpoint() async throws {
        let store = try Store(path: dbPath, auditKey: key)
        try await store.prepareAuditTrail()
        let file = AuditCheckpointFile(path: dir + "/audit.checkpoints")
        try await store.appendAuditCheckpoint(key: key, to: file)
        let handle = try #require(FileHandle(forWritingAtPath: file.path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"at\":\"2026-".utf8))
        try handle.close()
        try await store.appendAuditCheckpoint(key: key, to: file)
        let parsed = AuditCheckpoint.parse(try #require(try file.read()), key: key)
        #expect(parsed.checkpoints.map(\.line) == [1, 3])
        #expect(parsed.problems.map(\.line) == [2])
    }
}
