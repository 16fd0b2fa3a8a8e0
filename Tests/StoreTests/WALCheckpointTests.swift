import Foundation
import MillwrightCore
@testable import Store
import Testing

/// The write-ahead log is copied into the database by a checkpointer of its own, not by the
/// writer's commit, and stays bounded when that checkpointer falls behind.
@Suite struct WALCheckpointTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)").path

    func backend(writerCheckpointFrames: Int32 = WALCheckpointer.defaultWriterCheckpointFrames) throws -> SQLiteBackend {
        try SQLiteBackend(path: dir + "/store.db", durability: .full, auditSeal: AuditSeal(key: nil), writerCheckpointFrames: writerCheckpointFrames)
    }

    func size(_ file: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Writes `rows` rows of 3,000 random bytes: about one 4 KiB page each.
    func insert(_ backend: SQLiteBackend, rows: Int) async throws {
        try await backend.write { session in
            try session.run("CREATE TABLE IF NOT EXISTS scratch(x BLOB)", [])
            try session.run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO scratch SELECT randomblob(3000) FROM n", [rows])
        }
    }

    @Test func theWritersCommitLeavesTheCopyToTheCheckpointer() async throws {
        let store = try backend()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        store.checkpointer.pause()
        let before = try size(dir + "/store.db")
        try await insert(store, rows: 1_500)
        // 1,500 pages are past the 1,000 that wake the checkpointer, which is held: had the
        // commit checkpointed itself, the database file would hold them now.
        #expect(try size(dir + "/store.db") - before < 500 * 4_096)
        #expect(try size(dir + "/store.db-wal") > 1_500 * 3_000)

        store.checkpointer.resume()
        store.checkpointer.checkpointNow()
        #expect(try size(dir + "/store.db") - before > 1_500 * 3_000)
        let rows: Int? = try await store.read { try $0.rows("SELECT COUNT(*) AS n FROM scratch", []).first?["n"] }
        #expect(rows == 1_500)
    }

    @Test func aCheckpointerThatFallsBehindStillLeavesTheLogBounded() async throws {
        let store = try backend(writerCheckpointFrames: 300)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        store.checkpointer.pause()
        for _ in 0..<20 { try await insert(store, rows: 100) }
        // 2,000 pages written while the checkpointer was held: the writer copied them itself
        // each time the log reached 300 frames, and the log started again from its beginning.
        let frame = 4_096 + 24
        #expect(try size(dir + "/store.db-wal") <= (300 + 110) * frame + 32)
        #expect(try size(dir + "/store.db") > 1_500 * 3_000)
        let rows: Int? = try await store.read { try $0.rows("SELECT COUNT(*) AS n FROM scratch", []).first?["n"] }
        #expect(rows == 2_000)
    }
}
