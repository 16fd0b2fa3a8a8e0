import Foundation
import GRDB
import GRDBSQLite
import MillwrightCore

/// The SQLite backend (WAL, GRDB): one writer at a time, so every decision sees the effects of
/// the transactions before it.
public final class SQLiteBackend: SQLBackend {
    let pool: DatabasePool
    public let path: String
    public var dialect: SQLDialect { .sqlite }
    public var location: String { path }

    public enum Durability: String, Sendable {
        /// fsync on every commit: an acknowledged detection survives power loss too.
        case full
        /// fsync at checkpoints: survives process crashes (kill -9), not power loss.
        case normal
    }

    public convenience init(path: String, durability: Durability = .full, auditSeal: AuditSeal) throws {
        try self.init(path: path, durability: durability, auditSeal: auditSeal, writerCheckpointFrames: WALCheckpointer.defaultWriterCheckpointFrames)
    }

    init(path: String, durability: Durability, auditSeal: AuditSeal, writerCheckpointFrames: Int32) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var config = Configuration()
        config.busyMode = .timeout(10)
        let sync = durability == .full ? "FULL" : "NORMAL"
        let checkpointer = WALCheckpointer(path: path, synchronous: sync, writerCheckpointFrames: writerCheckpointFrames)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // The writer descends every index of every table it inserts into: with SQLite's
            // default 2 MB of cache those pages were read again from the OS on each commit.
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA cache_size = -\(Self.writerCacheKiB)")
                // A statement inserting a group's rows keeps a journal of the pages it changes, so
                // it can be undone alone; past 64 KiB SQLite wrote that journal to a temporary file
                // (half of the process's pwrite time). In memory it is bounded by what one
                // statement of a group changes. Readers, which sort whole reports, keep files.
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
                checkpointer.install(on: db)
            }
            // PostgreSQL's two-or-more-argument max/min (NULLs ignored), so statements read alike.
            db.add(function: Self.extremum("greatest") { $0 > $1 })
            db.add(function: Self.extremum("least") { $0 < $1 })
        }
        pool = try DatabasePool(path: path, configuration: config)
        self.path = path
        self.seal = auditSeal
        self.checkpointer = checkpointer
        try Schema.migrator.migrate(pool)
        checkpointer.start()
    }

    deinit { checkpointer.stop() }

    let seal: AuditSeal
    let checkpointer: WALCheckpointer
    /// The writer's page cache, in KiB (SQLite's default is 2,000); readers keep the default.
    static let writerCacheKiB = 32_768

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        let seal = seal
        return try await pool.write { db in try GRDBSession(db, seal: seal).transaction(body) }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        let seal = seal
        return try await pool.read { db in try body(GRDBSession(db, seal: seal)) }
    }

    /// Synchronous, for start-up checks made before anything async runs.
    public func writeNow<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.write { db in try GRDBSession(db, seal: seal).transaction(body) }
    }

    private static func extremum(_ name: String, _ better: @escaping @Sendable (DatabaseValue, DatabaseValue) -> Bool) -> DatabaseFunction {
        DatabaseFunction(name, argumentCount: nil, pure: true) { args in
            var best: DatabaseValue?
            for v in args where !v.isNull {
                if let b = best {
                    if better(v, b) { best = v }
                } else {
                    best = v
                }
            }
            return best
        }
    }
}

private func > (a: DatabaseValue, b: DatabaseValue) -> Bool { compare(a, b) > 0 }
private func < (a: DatabaseValue, b: DatabaseValue) -> Bool { compare(a, b) < 0 }

/// Numbers by value, text by bytes (the two kinds the store compares).
private func compare(_ a: DatabaseValue, _ b: DatabaseValue) -> Int {
    switch (a.storage, b.storage) {
    case (.int64(let x), .int64(let y)): return x == y ? 0 : (x < y ? -1 : 1)
    case (.int64(let x), .double(let y)): return Double(x) == y ? 0 : (Double(x) < y ? -1 : 1)
    case (.double(let x), .int64(let y)): return x == Double(y) ? 0 : (x < Double(y) ? -1 : 1)
    case (.double(let x), .double(let y)): return x == y ? 0 : (x < y ? -1 : 1)
    case (.string(let x), .string(let y)): return x == y ? 0 : (x < y ? -1 : 1)
    default: return 0
    }
}

/// A GRDB connection inside one transaction, as an `SQLSession`.
final class GRDBSession: SQLSession {
    let db: Database
    let auditSeal: AuditSeal
    let auditBuffer = AuditBuffer()
    var dialect: SQLDialect { .sqlite }

    init(_ db: Database, seal: AuditSeal) {
        self.db = db
        self.auditSeal = seal
    }

    // Statements prepared once per connection: the ingest path runs these for every detection
    // (re-preparing them was about a tenth of ingest CPU in the profile).
    @discardableResult
    func run(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        let statement = try prepared(sql, arguments)
        try statement.execute()
        return db.changesCount
    }

    func insert(_ bulk: SQLBulkInsert) throws { try bulk.insertValues(self) }

    /// Rows read straight from SQLite, text by its byte length: GRDB reads text as a C string,
    /// which would cut a value at its first NUL.
    func rows(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow] {
        let statement = try prepared(sql, arguments)
        let names = statement.columnNames
        let handle = statement.sqliteStatement
        let columns = (0..<CInt(names.count))
        let cursor = try Row.fetchCursor(statement)
        var rows: [SQLRow] = []
        while try cursor.next() != nil {
            rows.append(SQLRow(names: names, values: columns.map { Self.column($0, of: handle) }))
        }
        return rows
    }

    /// The cached statement with `arguments` bound straight into SQLite: GRDB's arguments box
    /// each value twice on the way (4 % of the gateway's CPU on the ingest path) and bind text
    /// as a C string, cut at a NUL. GRDB is told the statement has no arguments of its own, so
    /// it resets it (bindings kept) rather than binding again.
    private func prepared(_ sql: String, _ arguments: SQLArguments) throws -> Statement {
        let statement = try db.cachedStatement(sql: sql)
        let handle = statement.sqliteStatement
        let parameters = Int(sqlite3_bind_parameter_count(handle))
        guard arguments.values.count == parameters else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "\(arguments.values.count) arguments for \(parameters) parameters", sql: sql)
        }
        statement.setUncheckedArguments(StatementArguments())
        for (i, value) in arguments.values.enumerated() {
            let index = CInt(i + 1)
            let code: CInt
            switch value {
            case .null: code = sqlite3_bind_null(handle, index)
            case .integer(let v): code = sqlite3_bind_int64(handle, index, v)
            case .real(let v): code = sqlite3_bind_double(handle, index, v)
            case .text(let v):
                var text = v
                code = text.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { chars in
                        guard let length = CInt(exactly: chars.count) else { return SQLITE_TOOBIG }
                        // An empty text is still text, never NULL: SQLite needs a pointer for it.
                        guard let start = chars.baseAddress else { return sqlite3_bind_text(handle, index, "", 0, sqliteTransient) }
                        return sqlite3_bind_text(handle, index, start, length, sqliteTransient)
                    }
                }
            case .blob(let v):
                code = v.withUnsafeBytes { bytes in
                    guard let length = CInt(exactly: bytes.count) else { return SQLITE_TOOBIG }
                    guard let start = bytes.baseAddress, length > 0 else { return sqlite3_bind_zeroblob(handle, index, 0) }
                    return sqlite3_bind_blob(handle, index, start, length, sqliteTransient)
                }
            }
            guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "binding parameter \(index)", sql: sql) }
        }
        return statement
    }

    /// One column of the current row. SQLite's documented order: the pointer first, then its
    /// length in bytes.
    private static func column(_ index: CInt, of handle: OpaquePointer) -> SQLValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:
            guard let start = sqlite3_column_text(handle, index) else { return .text("") }
            let length = Int(sqlite3_column_bytes(handle, index))
            return .text(String(decoding: UnsafeBufferPointer(start: start, count: length), as: UTF8.self))
        default:
            guard let start = sqlite3_column_blob(handle, index) else { return .blob(Data()) }
            return .blob(Data(bytes: start, count: Int(sqlite3_column_bytes(handle, index))))
        }
    }

    /// The body, then its audit records, inside the write transaction GRDB opened.
    func transaction<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        let result = try body(self)
        try flushAudit()
        return result
    }

    func savepoint(_ body: () throws -> Void) throws {
        let mark = auditBuffer.count
        do {
            try db.inSavepoint {
                try body()
                return .commit
            }
        } catch {
            auditBuffer.truncate(to: mark)
            throw error
        }
    }

    func isUniqueViolation(_ error: any Error) -> Bool {
        guard let e = error as? DatabaseError else { return false }
        return e.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE || e.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
    }

    /// SQLite runs one write transaction at a time: every write already holds the lock.
    func lock(_ name: String) throws {}
    func lock(exclusive: [String], shared: [String]) throws {}
}

/// SQLite copies the bytes before the bind call returns (`SQLITE_TRANSIENT`, a macro Swift does not import).
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
