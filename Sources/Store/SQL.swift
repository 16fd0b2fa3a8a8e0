import Foundation
import MillwrightCore

// The store's logic is written once, against these types; each backend (SQLite in this module,
// PostgreSQL in `StorePostgres`) supplies a session that runs it inside one transaction.
// Statements are written in the subset both databases read alike: `?` or `?N` placeholders
// (a PostgreSQL session rewrites them to `$N`), integers for booleans, REAL/double seconds for
// times, `GREATEST`/`LEAST` for the two-argument max/min (registered on SQLite connections),
// and `ON CONFLICT … DO …` for upserts.

/// One value bound into, or read out of, a statement.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// A Swift value that binds as a statement argument.
public protocol SQLBindable {
    var sqlValue: SQLValue { get }
}

extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .real(self) } }
extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Data: SQLBindable { public var sqlValue: SQLValue { .blob(self) } }
extension SQLValue: SQLBindable { public var sqlValue: SQLValue { self } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// A statement's arguments: `[id, now.dbValue, shadow]`.
public struct SQLArguments: Sendable, ExpressibleByArrayLiteral {
    public var values: [SQLValue]
    public init(_ values: [SQLValue]) { self.values = values }
    public init(arrayLiteral elements: (any SQLBindable)?...) {
        values = elements.map { $0?.sqlValue ?? .null }
    }
}

/// A Swift value read from a column.
public protocol SQLColumnDecodable {
    init?(sqlValue: SQLValue)
}

extension Int64: SQLColumnDecodable {
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .integer(let v): self = v
        // Aggregates over integers come back as numeric (PostgreSQL) or real (SQLite AVG).
        case .real(let v) where v.isFinite && v.rounded() == v && abs(v) < 9.2e18: self = Int64(v)
        case .text(let s): guard let v = Int64(s) else { return nil }; self = v
        default: return nil
        }
    }
}
extension Int: SQLColumnDecodable {
    public init?(sqlValue: SQLValue) {
        guard let v = Int64(sqlValue: sqlValue) else { return nil }
        self = Int(v)
    }
}
extension Double: SQLColumnDecodable {
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .real(let v): self = v
        case .integer(let v): self = Double(v)
        case .text(let s): guard let v = Double(s) else { return nil }; self = v
        default: return nil
        }
    }
}
extension String: SQLColumnDecodable {
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .text(let s): self = s
        case .blob(let d): self = String(decoding: d, as: UTF8.self)
        case .integer(let v): self = String(v)
        case .real(let v): self = String(v)
        case .null: return nil
        }
    }
}
extension Bool: SQLColumnDecodable {
    public init?(sqlValue: SQLValue) {
        guard let v = Int64(sqlValue: sqlValue) else { return nil }
        self = v != 0
    }
}
extension Data: SQLColumnDecodable {
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .blob(let d): self = d
        case .text(let s): self = Data(s.utf8)
        default: return nil
        }
    }
}

/// One result row, read by column name (case-insensitive, as both databases fold names).
public struct SQLRow: Sendable {
    public var names: [String]
    public var values: [SQLValue]

    public init(names: [String], values: [SQLValue]) {
        self.names = names
        self.values = values
    }

    public func value(_ name: String) -> SQLValue {
        if let i = names.firstIndex(of: name) { return values[i] }
        if let i = names.firstIndex(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) { return values[i] }
        return .null
    }

    public subscript<T: SQLColumnDecodable>(_ name: String) -> T? {
        T(sqlValue: value(name))
    }

    /// A column the schema declares NOT NULL; a NULL there is a broken store, not bad input.
    public subscript<T: SQLColumnDecodable>(_ name: String) -> T {
        guard let v = T(sqlValue: value(name)) else {
            preconditionFailure("column \(name) is \(value(name)), not \(T.self)")
        }
        return v
    }
}

public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// One connection inside one transaction. Statements are prepared once per connection.
public protocol SQLSession: AnyObject {
    var dialect: SQLDialect { get }
    /// Runs a statement; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ arguments: SQLArguments) throws -> Int
    func rows(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow]
    /// Runs `body` in a savepoint: rolled back alone if it throws (and the error rethrown).
    func savepoint(_ body: () throws -> Void) throws
    /// The error is a unique-constraint violation (a lost race on a unique index).
    func isUniqueViolation(_ error: any Error) -> Bool
    /// Makes every transaction that takes the same lock run this part one at a time, until
    /// commit. SQLite has one writer at a time already; PostgreSQL takes an advisory lock.
    func lock(_ name: String) throws
    /// Takes several locks in one go, in a fixed order (sorted by name), so two transactions
    /// taking overlapping sets cannot deadlock on them. `shared` ones are held alongside other
    /// shared holders of the same name and exclude `lock(name)`.
    func lock(exclusive: [String], shared: [String]) throws
    /// The seal new audit records are hashed with (plain, or keyed by `audit.key_env`).
    var auditSeal: AuditSeal { get }
    /// Audit records of this transaction, appended to the chain just before it commits
    /// (`flushAudit`), so the chain's lock is held for that moment only.
    var auditBuffer: AuditBuffer { get }
    /// Inserts many rows of one table (`SQLBulkInsert.rows`, each in `columns` order).
    func insert(_ bulk: SQLBulkInsert) throws
}

/// Many rows for one table, in as few statements as the database allows. SQLite takes
/// multi-row VALUES lists of `valuesPerStatement` rows (its statements are prepared once per
/// text and cached). PostgreSQL parses and plans every statement it is sent; a VALUES list of
/// hundreds of parameters cost it more than storing the rows did, so it gets one short fixed
/// text per table with each column bound as one array (`unnest`).
public struct SQLBulkInsert {
    public enum ColumnType: Sendable { case text, real, integer }
    public struct Column: Sendable {
        public var name: String
        public var type: ColumnType
        public init(_ name: String, _ type: ColumnType) { self.name = name; self.type = type }
    }

    public var table: String
    public var columns: [Column]
    public var rows: [[SQLValue]]
    public var valuesPerStatement: Int

    public init(into table: String, columns: [Column], rows: [[SQLValue]], valuesPerStatement: Int) {
        self.table = table; self.columns = columns; self.rows = rows; self.valuesPerStatement = valuesPerStatement
    }

    /// `(a, b, c)`.
    public var columnList: String { "(" + columns.map(\.name).joined(separator: ", ") + ")" }

    /// The VALUES form, for databases that prepare a statement once per text.
    public func insertValues(_ db: any SQLSession) throws {
        let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        for chunk in rows.chunked(max(1, valuesPerStatement)) {
            let marks = Array(repeating: row, count: chunk.count).joined(separator: ", ")
            try db.run("INSERT INTO \(table) \(columnList) VALUES \(marks)", SQLArguments(chunk.flatMap { $0 }))
        }
    }
}

/// The audit records a transaction made, in order, not yet in the chain. A savepoint that rolls
/// back truncates it to where it began, as the database does with the rows.
public final class AuditBuffer {
    /// Everything but its place in the chain, prepared before the chain is locked.
    public struct Entry {
        public var kind: String
        public var subject: String
        public var at: Date
        public var dataJSON: String
        public var canonical: AuditRecord.CanonicalParts

        /// `atText`: `at` as `Timestamps.format` writes it.
        init(kind: String, subject: String, data: [String: JSONValue], at: Date, atText: String) {
            self.kind = kind
            self.subject = subject
            self.at = at
            // The canonical writer, not JSONEncoder (a tenth of a node's ingest CPU): the
            // column is read back as JSON values and hashed canonically anyway.
            var json = ""
            CanonicalJSON.write(.object(data), into: &json)
            self.dataJSON = json
            self.canonical = AuditRecord.canonicalParts(atText: atText, kind: kind, subject: subject, canonicalData: json)
        }
    }

    public private(set) var entries: [Entry] = []
    /// The last time formatted: a transaction's records share a few receive times, and
    /// Foundation's ISO 8601 formatter was a sixth of preparing a record.
    private var lastTime: (at: Date, text: String)?

    public init() {}

    public var count: Int { entries.count }

    public func append(kind: String, subject: String, data: [String: JSONValue], at: Date) {
        let text: String
        if let last = lastTime, last.at == at {
            text = last.text
        } else {
            text = Timestamps.format(at)
            lastTime = (at, text)
        }
        entries.append(Entry(kind: kind, subject: subject, data: data, at: at, atText: text))
    }

    public func truncate(to count: Int) {
        if count < entries.count { entries.removeLast(entries.count - count) }
    }

    public func take() -> [Entry] {
        defer { entries = [] }
        return entries
    }
}

extension SQLSession {
    @discardableResult
    public func run(_ sql: String) throws -> Int { try run(sql, []) }

    public func rows(_ sql: String) throws -> [SQLRow] { try rows(sql, []) }

    public func row(_ sql: String, _ arguments: SQLArguments = []) throws -> SQLRow? {
        try rows(sql, arguments).first
    }

    public func value<T: SQLColumnDecodable>(as type: T.Type, _ sql: String, _ arguments: SQLArguments = []) throws -> T? {
        guard let row = try rows(sql, arguments).first, let first = row.values.first else { return nil }
        return T(sqlValue: first)
    }

    /// Appended to a SELECT that claims rows another node may be claiming at the same moment:
    /// on PostgreSQL the rows are locked until commit and rows locked by others are passed
    /// over; SQLite has one writer, so nothing is needed. NO KEY UPDATE: the store never
    /// changes a key, and this lock leaves alone the key-share locks that inserts of rows
    /// referring to these (foreign keys) take.
    public func claiming(of table: String? = nil) -> String {
        dialect == .postgres ? " FOR NO KEY UPDATE\(table.map { " OF \($0)" } ?? "") SKIP LOCKED" : ""
    }

    /// Appended to a SELECT whose row the transaction then changes from what it read.
    public var lockingRead: String { dialect == .postgres ? " FOR NO KEY UPDATE" : "" }

    /// The first column of every row, NULLs left out.
    public func column<T: SQLColumnDecodable>(as type: T.Type, _ sql: String, _ arguments: SQLArguments = []) throws -> [T] {
        try rows(sql, arguments).compactMap { $0.values.first.flatMap(T.init(sqlValue:)) }
    }
}

/// A database the store runs its transactions on.
public protocol SQLBackend: Sendable {
    var dialect: SQLDialect { get }
    /// A write transaction: committed when `body` returns, rolled back when it throws. A
    /// backend may run `body` again after a serialization failure or deadlock, so it must not
    /// have effects outside the session.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// A read-only transaction.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// A description for logs and errors: the file path, or the server and database name.
    var location: String { get }
}

/// A backend's error that may mean the database cannot be reached now (down, restarting,
/// network): then nothing was applied, and the same request later may succeed. The API
/// answers 503 with Retry-After for it.
public protocol StoreUnavailableError: Error {
    var isUnavailable: Bool { get }
}
