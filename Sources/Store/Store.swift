import Foundation
import GRDB
import MillwrightCore

/// Millwright's durable state on SQLite (WAL). Every decision is made inside the same
/// write transaction that stores it, so concurrent requests see each other's effects and
/// a crash leaves either all of a batch or none of it.
public final class Store: Sendable {
    let pool: DatabasePool
    public let path: String
    let auditKey: AuditKey?

    public enum Durability: String, Sendable {
        /// fsync on every commit: an acknowledged detection survives power loss too.
        case full
        /// fsync at checkpoints: survives process crashes (kill -9), not power loss.
        case normal
    }

    /// With `auditKey`, new audit records are HMAC-sealed (see `prepareAuditTrail`).
    public init(path: String, durability: Durability = .full, auditKey: AuditKey? = nil) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var config = Configuration()
        config.busyMode = .timeout(10)
        let sync = durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            db.add(function: Self.auditHashFunction(AuditSeal(key: auditKey)))
        }
        self.pool = try DatabasePool(path: path, configuration: config)
        self.path = path
        self.auditKey = auditKey
        try Schema.migrator.migrate(pool)
    }

    /// Runs a write transaction; used by the query helpers and tests.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.write(body)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    static func json<T: Encodable>(_ v: T) -> String { RecordJSON.encode(v) }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .custom { d in
            let s = try d.singleValueContainer().decode(String.self)
            guard let date = Timestamps.parseISO(s) else { throw DecodingError.dataCorrupted(.init(codingPath: d.codingPath, debugDescription: "bad date")) }
            return date
        }
        return try? dec.decode(type, from: Data(text.utf8))
    }
}

extension Date {
    /// Stored as Unix seconds with millisecond precision, as canonical audit JSON shows them.
    var dbValue: Double { Double(Timestamps.millis(self)) / 1000 }
    init(db: Double) { self.init(timeIntervalSince1970: db) }
}

extension Database {
    /// Appends one record to the hash chain; call inside the transaction that made the change.
    func audit(kind: String, subject: String, data: [String: JSONValue], at: Date) throws {
        let last = try row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        let seq: Int64 = (last?["seq"] ?? 0) + 1
        let prev: String = last?["hash"] ?? AuditRecord.genesis
        let at = Date(db: at.dbValue)
        let canonical = AuditRecord.canonicalJSON(seq: seq, at: at, kind: kind, subject: subject, data: data)
        // The connection's hash function carries the store's seal (plain or keyed), so the
        // key reaches every call site without being passed through each.
        try run("INSERT INTO audit (seq, at, kind, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, \(Store.auditHashSQL)(?, ?))",
                [seq, at.dbValue, kind, subject, Store.json(data), prev, prev, canonical])
    }
}

extension Database {
    // Statements prepared once per connection: the ingest path runs these for every detection
    // (re-preparing them was about a tenth of ingest CPU in the profile).
    func run(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func rows(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws -> [Row] {
        try Row.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }

    func row(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func value<T: DatabaseValueConvertible & StatementColumnConvertible>(as type: T.Type, _ sql: String,
                                                                         _ arguments: StatementArguments = StatementArguments()) throws -> T? {
        try T.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
