import Foundation
import GRDB
import GRDBSQLite

/// Copies the write-ahead log into the database file from a thread and connection of its own,
/// so the one writer does not. SQLite's automatic checkpoint ran inside the writer's commit:
/// a seventh of the gateway's CPU on the ingest path, plus an fsync of the database file, paid
/// while every waiting submission queued behind it.
///
/// The writer's commit only wakes the checkpointer. A passive checkpoint never takes the write
/// lock, so it runs beside the next transactions; SQLite starts the log again from its
/// beginning when a writer finds it fully copied. Should the checkpointer fall behind a writer
/// that never pauses, the writer checkpoints itself once the log reaches `writerCheckpointFrames`,
/// as SQLite's own automatic checkpoint would: the log stays bounded either way.
final class WALCheckpointer: @unchecked Sendable {
    /// Log frames (pages) not yet copied after which a commit wakes the checkpointer: SQLite's own
    /// automatic checkpoint interval.
    static let wakeFrames: Int32 = 1_000
    /// Log frames at which the writer checkpoints itself: 20,000 pages of 4 KiB, about 80 MB.
    static let defaultWriterCheckpointFrames: Int32 = 20_000

    let path: String
    let synchronous: String
    let writerCheckpointFrames: Int32
    private let condition = NSCondition()
    private var wanted = false
    private var stopped = false
    private var paused = false
    private var passes = 0
    private var checkpointing = false
    /// How far into the log the last pass copied (frames), so a commit wakes it only once
    /// `wakeFrames` more wait: a page rewritten by every commit is copied once per pass.
    private var copiedUpTo: Int32 = 0

    init(path: String, synchronous: String, writerCheckpointFrames: Int32 = WALCheckpointer.defaultWriterCheckpointFrames) {
        self.path = path
        self.synchronous = synchronous
        self.writerCheckpointFrames = writerCheckpointFrames
    }

    /// Installs the commit hook on the writer's connection. It replaces SQLite's automatic
    /// checkpoint (both are the same hook), which is why the writer no longer checkpoints.
    func install(on db: Database) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(db.sqliteConnection, { context, connection, schema, frames in
            guard let context else { return SQLITE_OK }
            let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
            if frames >= checkpointer.writerCheckpointFrames {
                // Most of the log has usually been copied already, so this finishes the tail. Its
                // result is not returned: the commit has happened, and an error returned here
                // would report it as failed (busy only means the checkpointer is copying now).
                sqlite3_wal_checkpoint_v2(connection, schema, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                return SQLITE_OK
            }
            checkpointer.committed(logFrames: frames)
            return SQLITE_OK
        }, context)
    }

    /// Starts the thread. Its connection opens on the first checkpoint, after the writer made
    /// the database and chose WAL.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "millwright-wal-checkpoint"
        thread.start()
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    private func committed(logFrames: Int32) {
        condition.withLock {
            // The log restarts from its beginning after a complete checkpoint: then all of it is new.
            let uncopied = logFrames >= copiedUpTo ? logFrames - copiedUpTo : logFrames
            guard uncopied >= Self.wakeFrames else { return }
            wanted = true
            condition.signal()
        }
    }

    private func run() {
        var connection: DatabaseQueue?
        while true {
            condition.lock()
            while (!wanted || paused), !stopped { condition.wait() }
            if stopped {
                condition.unlock()
                return
            }
            wanted = false
            checkpointing = true
            condition.unlock()
            do {
                if connection == nil { connection = try open() }
                // Passive: copies what no reader still needs and returns; never waits for the writer.
                let log = try connection?.writeWithoutTransaction { db in try db.checkpoint(.passive).walFrameCount } ?? 0
                condition.withLock { copiedUpTo = max(0, Int32(clamping: log)) }
            } catch {
                // The writer's own limit still bounds the log; the next wake tries again.
                connection = nil
            }
            condition.withLock {
                passes += 1
                checkpointing = false
                condition.broadcast()
            }
        }
    }

    private func open() throws -> DatabaseQueue {
        var config = Configuration()
        config.busyMode = .timeout(10)
        let synchronous = synchronous
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        return try DatabaseQueue(path: path, configuration: config)
    }

    // Tests: hold the checkpointer still, or wait for its next pass.

    func pause() { condition.withLock { paused = true } }

    func resume() {
        condition.withLock {
            paused = false
            condition.broadcast()
        }
    }

    /// Wakes the checkpointer and returns after one more pass than had run when called.
    func checkpointNow() {
        condition.lock()
        defer { condition.unlock() }
        // A pass already under way may have started before what the caller just wrote.
        let target = passes + (checkpointing ? 2 : 1)
        wanted = true
        condition.broadcast()
        while passes < target, !stopped { condition.wait() }
    }
}
