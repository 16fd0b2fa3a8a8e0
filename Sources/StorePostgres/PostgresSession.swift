import Foundation
import Logging
import MillwrightCore
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import Store

/// One connection inside one transaction, run on a thread of the backend's pool (never an
/// event-loop thread): each statement blocks on its future, because the store's logic is
/// synchronous.
///
/// Binding: integer → int8, real → float8, text → text, blob → bytea, null → an untyped NULL
/// (the server infers its type). PostgreSQL casts an int8 parameter to `double precision`
/// implicitly, so `WHERE at < ?` works with an integer; it does not cast text to a number
/// (`text = bigint` has no operator), so the store must bind numbers as numbers and text as
/// text, which its Swift types already do. Booleans are integers on both databases.
final class PostgresSession: SQLSession {
    let dialect: SQLDialect = .postgres
    let connection: PostgresConnection
    let auditSeal: AuditSeal
    let auditBuffer = AuditBuffer()
    let logger: Logger
    /// Lock names are scoped to it: advisory locks are database-wide, and two plants in two
    /// schemas of one database must not wait on each other.
    let lockScope: String
    private let placeholders: PlaceholderCache
    /// Names savepoints uniquely within the transaction, however they nest.
    private var savepointCounter = 0
    /// A statement without an answer for this long is given up, and its connection closed.
    let watchdog: TimeAmount
    /// The connection failed or went unanswered: every later statement fails at once.
    private var lost = false
    /// The server stopped answering (the watchdog fired), rather than closing the connection:
    /// a fresh connection is not worth trying straight away.
    private(set) var unanswered = false

    init(connection: PostgresConnection, auditSeal: AuditSeal, placeholders: PlaceholderCache, logger: Logger, lockScope: String,
         watchdog: TimeAmount = PostgresBackend.statementWatchdog) {
        self.connection = connection
        self.watchdog = watchdog
        self.lockScope = lockScope
        self.auditSeal = auditSeal
        self.placeholders = placeholders
        self.logger = logger
    }

    @discardableResult
    func run(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        try execute(sql, arguments).metadata.rows ?? 0
    }

    func rows(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow] {
        try execute(sql, arguments).rows.map(Self.decode)
    }

    /// One statement whose text depends only on the table: parsed and planned in microseconds
    /// however many rows it carries.
    func insert(_ bulk: SQLBulkInsert) throws {
        guard !bulk.rows.isEmpty else { return }
        var columns = Array(repeating: [SQLValue](), count: bulk.columns.count)
        for i in columns.indices { columns[i].reserveCapacity(bulk.rows.count) }
        for row in bulk.rows {
            guard row.count == bulk.columns.count else {
                throw PostgresBackendError.unsupportedColumn(name: bulk.table, type: "a row of \(row.count) values for \(bulk.columns.count) columns")
            }
            for (i, value) in row.enumerated() {
                guard ColumnArray.check(value, as: bulk.columns[i].type) else {
                    throw PostgresBackendError.unsupportedColumn(name: "\(bulk.table).\(bulk.columns[i].name)", type: "\(value) for \(bulk.columns[i].type)")
                }
                columns[i].append(value)
            }
        }
        var binds = PostgresBindings(capacity: columns.count)
        for (i, column) in bulk.columns.enumerated() { binds.append(ColumnArray(type: column.type, values: columns[i])) }
        let arrays = bulk.columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        _ = try answer(PostgresQuery(unsafeSQL: "INSERT INTO \(bulk.table) \(bulk.columnList) SELECT * FROM unnest(\(arrays))", binds: binds))
    }

    func savepoint(_ body: () throws -> Void) throws {
        savepointCounter += 1
        let name = "mw_sp_\(savepointCounter)"
        try raw("SAVEPOINT \(name)")
        let mark = auditBuffer.count
        do {
            try body()
        } catch {
            auditBuffer.truncate(to: mark)
            // Undo only the savepoint's work; the transaction goes on. If even that fails
            // (connection lost), the original error is still the one worth reporting.
            try? raw("ROLLBACK TO SAVEPOINT \(name)")
            try? raw("RELEASE SAVEPOINT \(name)")
            throw error
        }
        try raw("RELEASE SAVEPOINT \(name)")
    }

    func isUniqueViolation(_ error: any Error) -> Bool {
        PostgresBackendError.sqlState(of: error) == "23505"
    }

    func lock(_ name: String) throws {
        // A transaction-level advisory lock: released at COMMIT or ROLLBACK, never leaked.
        try run("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [lockScope + ":" + name])
    }

    func lock(exclusive: [String], shared: [String]) throws {
        // One statement, one round trip; the target list is evaluated left to right, in the
        // sorted order every transaction uses.
        let all = (exclusive.map { ($0, false) } + shared.map { ($0, true) }).sorted { $0.0 < $1.0 }
        guard !all.isEmpty else { return }
        let calls = all.indices.map { i in
            "pg_advisory_xact_lock\(all[i].1 ? "_shared" : "")(hashtextextended(?\(i + 1), 0))"
        }
        try run("SELECT " + calls.joined(separator: ", "), SQLArguments(all.map { .text(lockScope + ":" + $0.0) }))
    }

    /// A statement without placeholders translation (transaction control, DDL).
    func raw(_ sql: String) throws {
        _ = try answer(PostgresQuery(unsafeSQL: sql))
    }

    /// Sends one statement and waits for its result, at most `watchdog`. PostgresNIO can leave
    /// a query on a connection that was closing unanswered for ever (vapor/postgres-nio #487,
    /// reverted in #501); a database restart did that here, and the pool thread, the
    /// transaction's locks and the HTTP request behind it waited with it. On the deadline the
    /// connection is closed (the server then ends the transaction) and the store is reported
    /// unavailable, which the API answers with 503 and Retry-After.
    func answer(_ query: PostgresQuery) throws -> PostgresQueryResult {
        guard !lost, !connection.isClosed else {
            throw PostgresBackendError.unavailable("the connection to the database was lost")
        }
        let connection = self.connection
        let fired = NIOLockedValueBox(false)
        do {
            return try connection.query(query, logger: logger).wait(atMost: watchdog, "no answer from the database", then: "; the connection was closed") {
                fired.withLockedValue { $0 = true }
                // On the loop's next turn, after the wait has failed with the watchdog's error
                // (closing fails the query at once, with a vaguer one).
                connection.eventLoop.execute { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
            }
        } catch {
            if case .unavailable = error as? PostgresBackendError { lost = true }
            if fired.withLockedValue({ $0 }) { unanswered = true }
            throw PostgresBackendError.from(error, sql: query.sql)
        }
    }

    private func execute(_ sql: String, _ arguments: SQLArguments) throws -> PostgresQueryResult {
        let text = placeholders.translate(sql)
        var binds = PostgresBindings(capacity: arguments.values.count)
        for value in arguments.values {
            switch value {
            case .null: binds.appendNull()
            case .integer(let v): binds.append(v)
            case .real(let v): binds.append(v)
            case .text(let v): binds.append(v)
            case .blob(let v): binds.append(ByteBuffer(bytes: v))
            }
        }
        return try answer(PostgresQuery(unsafeSQL: text, binds: binds))
    }

    /// A row by column type; names are lowercased, as unquoted identifiers are on both databases.
    static func decode(_ row: PostgresRow) throws -> SQLRow {
        var names: [String] = []
        var values: [SQLValue] = []
        names.reserveCapacity(row.count)
        values.reserveCapacity(row.count)
        for cell in row {
            names.append(cell.columnName.lowercased())
            values.append(try value(of: cell))
        }
        return SQLRow(names: names, values: values)
    }

    static func value(of cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8:
                return .integer(try cell.decode(Int64.self))
            case .float4, .float8:
                return .real(try cell.decode(Double.self))
            case .numeric:
                // SUM/AVG over bigint come back as numeric; the store reads them as numbers.
                // Parsed from the decimal's text form (Double(Decimal) is not exact either way).
                let decimal = try cell.decode(Decimal.self)
                guard let number = Double(decimal.description) else {
                    throw PostgresBackendError.unsupportedColumn(name: cell.columnName, type: "numeric \(decimal)")
                }
                return .real(number)
            case .bool:
                return .integer(try cell.decode(Bool.self) ? 1 : 0)
            case .text, .varchar, .name, .bpchar, .json, .jsonb, .unknown:
                return .text(try cell.decode(String.self))
            case .bytea:
                let buffer = try cell.decode(ByteBuffer.self)
                return .blob(Data(buffer.readableBytesView))
            default:
                throw PostgresBackendError.unsupportedColumn(name: cell.columnName, type: "\(cell.dataType)")
            }
        } catch let error as PostgresBackendError {
            throw error
        } catch {
            throw PostgresBackendError.unsupportedColumn(name: cell.columnName, type: "\(cell.dataType) (\(error))")
        }
    }
}

extension EventLoopFuture {
    /// Waits, on a thread that may block, at most `limit`. Past it, `expired` runs on the event
    /// loop and the wait throws `unavailable` ("\(what) within N s"); a result that comes later
    /// is the caller's to dispose of (`expired` is where it learns that it gave up).
    func wait(atMost limit: TimeAmount, _ what: String, then: String = "", expired: @escaping @Sendable () -> Void) throws -> Value where Value: Sendable {
        let bounded = eventLoop.makePromise(of: Value.self)
        cascade(to: bounded)
        let timer = eventLoop.scheduleTask(in: limit) {
            // First, so the waiting thread, woken by the failure, sees what `expired` recorded.
            expired()
            bounded.fail(PostgresBackendError.unavailable("\(what) within \(limit.nanoseconds / 1_000_000_000) s\(then)"))
        }
        defer { timer.cancel() }
        return try bounded.futureResult.wait()
    }
}
