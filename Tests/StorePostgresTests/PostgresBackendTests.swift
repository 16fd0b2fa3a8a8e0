import Dispatch
import Foundation
import MillwrightCore
import MillwrightTesting
import Store
import StorePostgres
import Testing

@Suite(.sharedPostgres) struct PostgresBackendTests {
    static func column(for value: SQLValue) -> String {
        switch value {
        case .integer: "i"
        case .real: "r"
        case .text, .null: "t"
        case .blob: "b"
        }
    }

    @Test func everyValueKindRoundTrips() async throws {
        let blob = Data((0...255).map { UInt8($0) }) + Data([0, 0, 0xFF])
        let values: [SQLValue] = [
            .integer(Int64.max), .integer(Int64.min), .integer(0), .real(3.141592653589793), .real(-1e-300), .real(1.5e300),
            .text("Grüße 🚧 工場 — \"quoted\" 'single' ?"), .text(""), .blob(blob), .blob(Data()), .null,
        ]
        let rows = try await withBackend { backend in
            try await backend.write { s in
                try s.run("CREATE TABLE kinds (n bigint PRIMARY KEY, i bigint, r double precision, t text, b bytea)")
                for (n, v) in values.enumerated() {
                    let column = Self.column(for: v)
                    try s.run("INSERT INTO kinds (n, \(column)) VALUES (?, ?)", [n, v])
                }
                return try s.rows("SELECT n, i, r, t, b FROM kinds ORDER BY n")
            }
        }
        #expect(rows.count == values.count)
        for (n, v) in values.enumerated() {
            let column = Self.column(for: v)
            #expect(rows[n].value(column) == v, "value \(n)")
            #expect(rows[n].names == ["n", "i", "r", "t", "b"])
        }
    }

    /// A bulk insert binds each column as one array: NULLs inside it, text of every kind, an
    /// integer given for a real column, and the same rows back in order; a value of the wrong
    /// kind is refused and nothing is stored.
    @Test func bulkInsertsCarryNullsAndEveryTextThroughColumnArrays() async throws {
        let columns: [SQLBulkInsert.Column] = [.init("n", .integer), .init("r", .real), .init("t", .text)]
        let rows: [[SQLValue]] = [
            [.integer(1), .real(-1e-300), .text("Grüße 🚧 工場 — \"quoted\" 'single' ? $1 \\N NULL")],
            [.integer(2), .null, .text("")],
            [.integer(3), .integer(7), .null],
            [.integer(Int64.min), .real(1.5e300), .text(String(repeating: "x", count: 70_000))],
        ]
        let (read, refused, after) = try await withBackend { backend in
            _ = try await backend.write { s in try s.run("CREATE TABLE bulk (n bigint PRIMARY KEY, r double precision, t text)") }
            let read = try await backend.write { s in
                try s.insert(SQLBulkInsert(into: "bulk", columns: columns, rows: rows, valuesPerStatement: 2))
                return try s.rows("SELECT n, r, t FROM bulk ORDER BY n")
            }
            var refused = false
            do {
                try await backend.write { s in
                    try s.insert(SQLBulkInsert(into: "bulk", columns: columns, rows: [[.integer(9), .text("not a number"), .null]], valuesPerStatement: 2))
                }
            } catch { refused = true }
            let after = try await backend.read { s in try s.value(as: Int.self, "SELECT count(*) FROM bulk") }
            return (read, refused, after)
        }
        #expect(read.map { $0.value("n") } == [.integer(Int64.min), .integer(1), .integer(2), .integer(3)])
        #expect(read[1].value("r") == .real(-1e-300))
        #expect(read[1].value("t") == rows[0][2])
        #expect(read[2].value("r") == .null && read[2].value("t") == .text(""))
        #expect(read[3].value("r") == .real(7) && read[3].value("t") == .null)
        #expect(read[0].value("t") == rows[3][2])
        #expect(refused)
        #expect(after == 4)
    }

    @Test func aggregatesBooleansAndImplicitCastsDecode() async throws {
        let row = try await withBackend { backend in
            try await backend.write { s -> SQLRow? in
                try s.run("CREATE TABLE nums (v bigint NOT NULL, at double precision NOT NULL)")
                for v in [Int64(4_000_000_000_000_000_000), 4_000_000_000_000_000_000, 7] {
                    try s.run("INSERT INTO nums (v, at) VALUES (?, ?)", [v, 10])
                }
                // SUM over bigint is numeric; comparisons are bool; an int8 parameter against a
                // double precision column casts implicitly.
                return try s.row("SELECT SUM(v) AS Total, COUNT(*) AS n, AVG(at) AS mean, MAX(v) > ? AS big, "
                                 + "(SELECT count(*) FROM nums WHERE at < ?) AS early FROM nums", [5, 11])
            }
        }
        let r = try #require(row)
        #expect(r.names.contains("total"))
        #expect(r.value("total") == .real(8_000_000_000_000_000_007))
        #expect(r.value("n") == .integer(3))
        #expect(r.value("mean") == .real(10))
        #expect(r.value("big") == .integer(1))
        #expect(r.value("early") == .integer(3))
        let mean: Double = r["mean"]
        #expect(mean == 10)
    }

    @Test func aFailingBodyRollsBackEverything() async throws {
        try await withBackend { backend in
            _ = try await backend.write { s in try s.run("CREATE TABLE t (id text PRIMARY KEY)") }
            await #expect(throws: Deliberate.self) {
                try await backend.write { s in
                    try s.run("INSERT INTO t (id) VALUES (?)", ["a"])
                    throw Deliberate()
                }
            }
            let count = try await backend.read { s in try s.value(as: Int.self, "SELECT count(*) FROM t") }
            #expect(count == 0)
        }
    }

    @Test func aSavepointRollsBackAloneAndTheOuterWorkCommits() async throws {
        try await withBackend { backend in
            let (innerThrew, ids) = try await backend.write { s -> (Bool, [String]) in
                try s.run("CREATE TABLE t (id text PRIMARY KEY)")
                try s.run("INSERT INTO t (id) VALUES (?)", ["outer"])
                var innerThrew = false
                do {
                    try s.savepoint {
                        try s.run("INSERT INTO t (id) VALUES (?)", ["inner"])
                        throw Deliberate()
                    }
                } catch is Deliberate {
                    innerThrew = true
                }
                try s.savepoint {
                    try s.savepoint { try s.run("INSERT INTO t (id) VALUES (?)", ["nested"]) }
                }
                return (innerThrew, try s.rows("SELECT id FROM t ORDER BY id").map { $0["id"] })
            }
            #expect(innerThrew)
            #expect(ids == ["nested", "outer"])
            let stored = try await backend.read { s in try s.rows("SELECT id FROM t ORDER BY id").map { row -> String in row["id"] } }
            #expect(stored == ["nested", "outer"])
        }
    }

    @Test func theOpenIncidentIndexReportsAUniqueViolation() async throws {
        try await withBackend { backend in
            let insert = """
                INSERT INTO incidents (id, asset, defect_class, zone, camera_id, state, is_open, shadow, opened_at, first_seen, last_seen,
                    detection_count, max_confidence, severity, severity_breakdown, priority, priority_rule)
                VALUES (?, 'A-1', 'crack', '', 'CAM-1', 'open', ?, 0, 1, 1, 1, 1, 0.9, 50, '{}', 'low', 'default')
                """
            let outcome = try await backend.write { s -> (Bool, Int) in
                try s.run(insert, ["I-1", 1])
                var violation = false
                do {
                    try s.savepoint { try s.run(insert, ["I-2", 1]) }
                } catch {
                    violation = s.isUniqueViolation(error)
                }
                // A closed incident on the same key is allowed: the index is partial.
                try s.run(insert, ["I-3", 0])
                return (violation, try s.value(as: Int.self, "SELECT count(*) FROM incidents") ?? -1)
            }
            #expect(outcome.0)
            #expect(outcome.1 == 2)
        }
    }

    @Test func aStatementErrorCaughtWithoutASavepointDoesNotPassForACommit() async throws {
        try await withBackend { backend in
            _ = try await backend.write { s in try s.run("CREATE TABLE t (id text PRIMARY KEY)") }
            let error = await #expect(throws: PostgresBackendError.self) {
                try await backend.write { s in
                    try s.run("INSERT INTO t (id) VALUES ('a')")
                    _ = try? s.run("INSERT INTO t (id) VALUES ('a')")
                }
            }
            #expect(error.map { "\($0)" }?.contains("savepoint") == true)
            let count = try await backend.read { s in try s.value(as: Int.self, "SELECT count(*) FROM t") }
            #expect(count == 0)
        }
    }

    @Test func statementErrorsCarryTheServersWords() async throws {
        try await withBackend { backend in
            let error = await #expect(throws: PostgresBackendError.self) {
                try await backend.read { s in try s.rows("SELECT * FROM no_such_table") }
            }
            guard case .statement(let state, let message, _, let sql)? = error else { Issue.record("got \(String(describing: error))"); return }
            #expect(state == "42P01")
            #expect(message.contains("no_such_table"))
            #expect(sql.contains("no_such_table"))
            // A read-only transaction refuses writes.
            let readOnly = await #expect(throws: PostgresBackendError.self) {
                try await backend.read { s in try s.run("CREATE TABLE t (id text)") }
            }
            #expect(PostgresBackendError.sqlState(of: readOnly ?? Deliberate()) == "25006")
        }
    }

    /// A node stopped inside a transaction must not hold its locks for ever: the server ends
    /// the session after the timeout every connection asks for at start.
    @Test func everySessionAsksTheServerToEndItIfItIdlesInATransaction() async throws {
        try await withBackend { backend in
            let setting = try await backend.read { s in try s.value(as: String.self, "SHOW idle_in_transaction_session_timeout") }
            #expect(setting == "\(PostgresBackend.idleInTransactionTimeoutSeconds)s")
        }
    }

    /// The second transaction's lock() must wait until the first commits: it is seen waiting
    /// in pg_locks before the first is let go, and then it reads what the first wrote.
    @Test func lockSerialisesTransactionsOnTheSameName() async throws {
        // The first transaction is held open on purpose, for as long as a busy machine takes to
        // see the second one wait: longer than the server would otherwise allow it to idle.
        try await withBackend(idleInTransactionSeconds: 120) { backend in
            _ = try await backend.write { s in try s.run("CREATE TABLE marks (who text NOT NULL)") }
            // A name of this run's own: the server (and its advisory locks) is shared by parallel tests.
            let name = "outbox-\(UUID().uuidString)"
            let firstHolds = DispatchSemaphore(value: 0)
            let releaseFirst = DispatchSemaphore(value: 0)
            let first = Task {
                try await backend.write { s in
                    try s.lock(name)
                    try s.run("INSERT INTO marks (who) VALUES ('first')")
                    firstHolds.signal()
                    // Blocks this pool thread (not a Swift concurrency one) until the test lets go.
                    releaseFirst.wait()
                }
            }
            await withCheckedContinuation { c in DispatchQueue.global().async { firstHolds.wait(); c.resume() } }
            let second = Task {
                try await backend.write { s -> Int in
                    try s.lock(name)
                    return try s.value(as: Int.self, "SELECT count(*) FROM marks WHERE who = 'first'") ?? -1
                }
            }
            // Condition wait (bounded): the second transaction is queued on the advisory lock
            // (whose key is the name scoped by the backend's schema).
            let deadline = ContinuousClock.now + .seconds(30)
            var waiting = 0
            while waiting == 0 && ContinuousClock.now < deadline {
                waiting = try await backend.read { s in
                    try s.value(as: Int.self, """
                        SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                            AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(?, 0)
                        """, [backend.settings.schema + ":" + name]) ?? 0
                }
                if waiting == 0 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(waiting == 1, "the second transaction never waited for the lock")
            releaseFirst.signal()
            try await first.value
            #expect(try await second.value == 1)
        }
    }

    /// Two writes that lock rows in opposite orders deadlock; the server aborts one (40P01)
    /// and the backend runs that one again from the start, so both succeed.
    @Test func aDeadlockedWriteIsRunAgain() async throws {
        try await withBackend { backend in
            _ = try await backend.write { s in
                try s.run("CREATE TABLE accounts (id text PRIMARY KEY, n bigint NOT NULL)")
                try s.run("INSERT INTO accounts (id, n) VALUES ('a', 0), ('b', 0)")
            }
            let runs = Counter()
            let aLocked = DispatchSemaphore(value: 0), bLocked = DispatchSemaphore(value: 0)
            // Each body meets the other only on its first run, so the retry runs straight through.
            func transfer(first: String, second: String, mine: DispatchSemaphore, theirs: DispatchSemaphore) -> Task<Void, any Error> {
                Task {
                    try await backend.write { s in
                        let run = runs.next()
                        try s.run("UPDATE accounts SET n = n + 1 WHERE id = ?", [first])
                        if run <= 2 {
                            mine.signal()
                            theirs.wait()
                        }
                        try s.run("UPDATE accounts SET n = n + 1 WHERE id = ?", [second])
                    }
                }
            }
            let one = transfer(first: "a", second: "b", mine: aLocked, theirs: bLocked)
            let two = transfer(first: "b", second: "a", mine: bLocked, theirs: aLocked)
            try await one.value
            try await two.value
            #expect(runs.value == 3)
            let totals = try await backend.read { s in try s.rows("SELECT n FROM accounts ORDER BY id").map { row -> Int in row["n"] } }
            #expect(totals == [2, 2])
        }
    }

    @Test func twoNodesStartingTogetherMigrateOnce() async throws {
        let server = try SharedPostgres.current()
        let settings = server.settings(pool: 2)
        async let a = PostgresBackend.connect(settings, auditSeal: AuditSeal(key: nil), logger: testLogger)
        async let b = PostgresBackend.connect(settings, auditSeal: AuditSeal(key: nil), logger: testLogger)
        let (first, second) = try await (a, b)
        let versions = try await first.read { s in
            try s.rows("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version")
                .map { row -> [Int] in [row["version"], row["n"]] }
        }
        // Every version once: the second node waited on the lock, then found them recorded.
        #expect(versions == (1...7).map { [$0, 1] })
        // The tables are there, in the configured schema, for both.
        let tables = try await second.read { s in
            try s.value(as: Int.self, "SELECT count(*) FROM information_schema.tables WHERE table_schema = ?", [settings.schema]) ?? 0
        }
        #expect(tables == 20)  // 19 tables (users, login_failures, user_sessions, cmms_notes since v3/v4, manual_findings since v5, cmms_readbacks since v6) and schema_migrations
        #expect(second.location == "127.0.0.1:\(server.port)/\(server.database) (\(settings.schema))")
        await first.close()
        await second.close()
        // A third start finds everything applied and changes nothing.
        let third = try await PostgresBackend.connect(settings, auditSeal: AuditSeal(key: nil), logger: testLogger)
        let count = try await third.read { s in try s.value(as: Int.self, "SELECT count(*) FROM schema_migrations") }
        #expect(count == 7)
        await third.close()
    }

    @Test func theAuditTrailIsAppendOnly() async throws {
        try await withBackend { backend in
            _ = try await backend.write { s in
                try s.run("INSERT INTO audit (seq, at, kind, subject, data, prev_hash, hash) VALUES (1, 1, 'k', 's', '{}', 'p', 'h')")
            }
            for statement in ["UPDATE audit SET kind = 'x'", "DELETE FROM audit", "TRUNCATE audit"] {
                let error = await #expect(throws: PostgresBackendError.self) { try await backend.write { s in try s.run(statement) } }
                #expect(error.map { "\($0)" }?.contains("append-only") == true, "\(statement)")
            }
        }
    }

    @Test func identityColumnsNumberInsertedRows() async throws {
        try await withBackend { backend in
            let ids = try await backend.write { s -> [Int] in
                try s.run("""
                    INSERT INTO incidents (id, asset, defect_class, camera_id, state, is_open, shadow, opened_at, first_seen, last_seen,
                        detection_count, max_confidence, severity, severity_breakdown, priority, priority_rule)
                    VALUES ('I-1', 'A', 'c', 'C', 'open', 1, 0, 1, 1, 1, 1, 0.5, 1, '{}', 'low', 'r')
                    """)
                for verdict in ["confirmed", "false_positive"] {
                    try s.run("INSERT INTO feedback (incident_id, at, verdict, by, source) VALUES (?, ?, ?, ?, ?)", ["I-1", 2.5, verdict, "amy", "api"])
                }
                return try s.rows("SELECT id FROM feedback ORDER BY id").map { $0["id"] }
            }
            #expect(ids == [1, 2])
        }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func next() -> Int { lock.withLock { count += 1; return count } }
    var value: Int { lock.withLock { count } }
}
