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

    /// A write that appends to the audit trail. It takes the chain's lock before anything else,
    /// so on a shared database no writer holds a row lock while waiting for the chain (the one
    /// order every writer follows: no deadlocks between them), and its decisions see every
    /// transaction before it. SQLite has one writer at a time anyway.
    func auditedWrite<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await backend.write { db in
            try db.lock(Store.auditChainLock)
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
}

extension Date {
    /// Stored as Unix seconds with millisecond precision, as canonical audit JSON shows them.
    var dbValue: Double { Double(Timestamps.millis(self)) / 1000 }
    init(db: Double) { self.init(timeIntervalSince1970: db) }
}

extension Store {
    /// Held by every transaction that appends to the audit trail, until it commits.
    static let auditChainLock = "audit-chain"
}

extension SQLSession {
    /// Appends one record to the hash chain; call inside the transaction that made the change.
    /// The chain's head is locked first, so concurrent writers on a shared database append one
    /// after the other.
    func audit(kind: String, subject: String, data: [String: JSONValue], at: Date) throws {
        try lock(Store.auditChainLock)
        let last = try row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        let seq: Int64 = (last?["seq"] ?? 0) + 1
        let prev: String = last?["hash"] ?? AuditRecord.genesis
        let at = Date(db: at.dbValue)
        let canonical = AuditRecord.canonicalJSON(seq: seq, at: at, kind: kind, subject: subject, data: data)
        try run("INSERT INTO audit (seq, at, kind, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [seq, at.dbValue, kind, subject, Store.json(data), prev, auditSeal.hash(prev: prev, canonical: canonical)])
    }
}
