import Foundation
import MillwrightCore

/// Millwright's durable state. Every decision is made inside the same write transaction that
/// stores it, so concurrent requests see each other's effects and a crash leaves either all of
/// a batch or none of it. The logic is written once over `SQLSession`; the backend is SQLite
/// (`SQLiteBackend`) or PostgreSQL (`StorePostgres`).
public final class Store: Sendable {
    public let backend: any SQLBackend
    let auditKey: AuditKey?
    /// This process among the nodes sharing the database: claims are leased in its name.
    public let node: String
    /// How long a claimed work order (or notification) stays this node's before another node
    /// may take it over: longer than any delivery attempt takes.
    public let lease: TimeInterval

    public typealias Durability = SQLiteBackend.Durability

    /// The store on a backend opened by the caller. With `auditKey`, new audit records are
    /// HMAC-sealed (see `prepareAuditTrail`); the backend must carry the same seal.
    public init(backend: any SQLBackend, auditKey: AuditKey? = nil, node: String = Store.defaultNodeId, lease: TimeInterval = 120) {
        self.backend = backend
        self.auditKey = auditKey
        self.node = node
        self.lease = lease
    }

    /// The store on a SQLite file.
    public convenience init(path: String, durability: Durability = .full, auditKey: AuditKey? = nil,
                            node: String = Store.defaultNodeId, lease: TimeInterval = 120) throws {
        self.init(backend: try SQLiteBackend(path: path, durability: durability, auditSeal: AuditSeal(key: auditKey)), auditKey: auditKey,
                  node: node, lease: lease)
    }

    /// Host name and process id: unique among live processes, and new after a restart.
    public static var defaultNodeId: String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Several nodes may share this database (PostgreSQL): claims of others are left alone.
    public var isShared: Bool { backend.dialect != .sqlite }

    /// The file path, or the PostgreSQL server and database, for messages.
    public var location: String { backend.location }

    /// Runs a write transaction; used by the query helpers and tests.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await backend.write(body)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await backend.read(body)
    }

    /// A write that may change anything: it runs alone among writers on a shared database (the
    /// writers' lock, exclusively), so its decisions see every transaction before it, as on
    /// SQLite, which has one writer at a time anyway. Ingest, the busy path, runs beside other
    /// ingests instead (`ingestWrite`). Every writer takes the audit chain's lock last, at
    /// commit (`flushAudit`), and holds nothing else it could wait on there: no deadlock.
    func auditedWrite<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await backend.write { db in
            try db.lock(Store.writersLock)
            return try body(db)
        }
    }

    /// A write that claims or records work on rows it locks itself (`FOR UPDATE`, `SKIP
    /// LOCKED`, conditional UPDATEs): it shares the writers' lock with ingests and other such
    /// writes, and waits only for the exclusive writers.
    func sharedWrite<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await backend.write { db in
            try db.lock(exclusive: [], shared: [Store.writersLock])
            return try body(db)
        }
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

    /// A stored JSON object (audit and timeline data), through the fast parser.
    static func jsonObject(_ text: String) -> [String: JSONValue]? {
        (try? JSONValue.parse(Data(text.utf8)))?.objectValue
    }
}

extension Date {
    /// Stored as Unix seconds with millisecond precision, as canonical audit JSON shows them.
    var dbValue: Double { Double(Timestamps.millis(self)) / 1000 }
    init(db: Double) { self.init(timeIntervalSince1970: db) }
}

extension Store {
    /// Taken at commit by every transaction that appends to the audit trail, until it commits:
    /// the chain's records are appended one transaction after the other.
    static let auditChainLock = "audit-chain"
    /// Exclusive for writes that may change anything, shared for ingest and claims.
    static let writersLock = "writers"
}

extension SQLSession {
    /// Records a change for the hash chain; call inside the transaction that made it. The
    /// records reach the chain when the transaction commits (`flushAudit`), or never.
    func audit(kind: String, subject: String, data: [String: JSONValue], at: Date) throws {
        auditBuffer.append(kind: kind, subject: subject, data: data, at: Date(db: at.dbValue))
    }

    /// Appends this transaction's audit records to the chain: the chain's lock, its head, and
    /// one multi-row INSERT per 100 records. Backends call it just before COMMIT, so the lock
    /// is held for about two statements rather than the whole transaction.
    public func flushAudit() throws {
        let entries = auditBuffer.take()
        guard !entries.isEmpty else { return }
        try lock(Store.auditChainLock)
        let last = try row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        var seq: Int64 = last?["seq"] ?? 0
        var prev: String = last?["hash"] ?? AuditRecord.genesis
        var rows: [[SQLValue]] = []
        rows.reserveCapacity(entries.count)
        for e in entries {
            seq += 1
            let hash = auditSeal.hash(prev: prev, canonical: e.canonical.json(seq: seq))
            rows.append([.integer(seq), .real(e.at.dbValue), .text(e.kind), .text(e.subject), .text(e.dataJSON), .text(prev), .text(hash)])
            prev = hash
        }
        // 100 records per VALUES list: 700 parameters, well under SQLite's limit.
        try insert(SQLBulkInsert(into: "audit", columns: auditColumns, rows: rows, valuesPerStatement: 100))
    }
}

private let auditColumns: [SQLBulkInsert.Column] = [
    .init("seq", .integer), .init("at", .real), .init("kind", .text), .init("subject", .text), .init("data", .text),
    .init("prev_hash", .text), .init("hash", .text),
]
