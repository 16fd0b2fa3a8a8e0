import Foundation
import MillwrightCore

/// A named person as stored: the password only as a bcrypt hash.
public struct UserRecord: Sendable, Equatable {
    public var name: String
    public var fullName: String
    public var role: UserRole
    public var passwordHash: String
    /// The TOTP shared secret, when the user has a second factor.
    public var totpSecret: String?
    public var disabled: Bool
    public var lockedAt: Date?
    public var createdAt: Date
    public var passwordSetAt: Date

    public init(name: String, fullName: String, role: UserRole, passwordHash: String, totpSecret: String? = nil,
                disabled: Bool = false, lockedAt: Date? = nil, createdAt: Date, passwordSetAt: Date) {
        self.name = name; self.fullName = fullName; self.role = role; self.passwordHash = passwordHash
        self.totpSecret = totpSecret; self.disabled = disabled; self.lockedAt = lockedAt
        self.createdAt = createdAt; self.passwordSetAt = passwordSetAt
    }

    /// Whether this person may log in or sign now.
    public var isActive: Bool { !disabled && lockedAt == nil }
}

/// A signature to be written with the action it signs, in the same transaction.
public struct SignatureIntent: Sendable, Equatable {
    public var user: String
    public var fullName: String
    public var meaning: SignatureMeaning
    public var timeZone: TimeZone
    public init(user: String, fullName: String, meaning: SignatureMeaning, timeZone: TimeZone) {
        self.user = user; self.fullName = fullName; self.meaning = meaning; self.timeZone = timeZone
    }
}

public struct AuditQuery: Sendable, Equatable {
    public var subject: String?
    public var kind: String?
    public var since: Date?
    public var until: Date?
    /// Records after this sequence number (the page before ended there).
    public var afterSeq: Int64 = 0
    public var limit = 100
    public init(subject: String? = nil, kind: String? = nil, since: Date? = nil, until: Date? = nil, afterSeq: Int64 = 0, limit: Int = 100) {
        self.subject = subject; self.kind = kind; self.since = since; self.until = until; self.afterSeq = afterSeq; self.limit = limit
    }
}

/// Named users, their login sessions and failed attempts; the audit trail read by subject,
/// kind and time. Every change to a user is an audit record.
public protocol UserStore: Sendable {
    func addUser(_ user: UserRecord, by: String, now: Date) async throws
    func user(named: String) async throws -> UserRecord?
    func users() async throws -> [UserRecord]
    func setUserDisabled(_ name: String, disabled: Bool, by: String, now: Date) async throws
    func resetPassword(_ name: String, hash: String, by: String, now: Date) async throws
    /// Records a failed login or signature; true when this failure locked the account.
    func recordAuthenticationFailure(_ name: String, context: String, policy: LockoutPolicy, now: Date) async throws -> Bool
    func createSession(tokenSHA256: String, user: String, now: Date) async throws
    /// The session's user when the session is live (used within `idle`, user active); touches it.
    func resumeSession(tokenSHA256: String, idle: TimeInterval, now: Date) async throws -> UserRecord?
    func endSession(tokenSHA256: String, now: Date) async throws -> Bool
    func auditRecords(_ q: AuditQuery) async throws -> [AuditRecord]
    func signatures(subject: String) async throws -> [SignatureManifest]
}

public enum UserStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    case exists(String)
    case unknown(String)
    public var description: String {
        switch self {
        case .exists(let n): "user \(n) already exists"
        case .unknown(let n): "there is no user \(n)"
        }
    }
}

extension Store: UserStore {
    static func subject(user name: String) -> String { "user:\(name)" }

    public func addUser(_ u: UserRecord, by: String, now: Date = Date()) async throws {
        try await auditedWrite { db in
            if try db.value(as: Bool.self, "SELECT 1 FROM users WHERE name = ?", [u.name]) != nil { throw UserStoreError.exists(u.name) }
            try db.run("""
                INSERT INTO users (name, full_name, role, password_hash, totp_secret, disabled, locked_at, created_at, password_set_at)
                VALUES (?, ?, ?, ?, ?, 0, NULL, ?, ?)
                """, [u.name, u.fullName, u.role.rawValue, u.passwordHash, u.totpSecret, now.dbValue, now.dbValue])
            try db.audit(kind: "user.added", subject: Self.subject(user: u.name), data: [
                "full_name": .string(u.fullName), "role": .string(u.role.rawValue), "totp": .bool(u.totpSecret != nil), "by": .string(by),
            ], at: now)
        }
    }

    public func user(named name: String) async throws -> UserRecord? {
        try await read { db in try db.row("SELECT * FROM users WHERE name = ?", [name]).map(Self.userRecord) }
    }

    public func users() async throws -> [UserRecord] {
        try await read { db in try db.rows("SELECT * FROM users ORDER BY name").map(Self.userRecord) }
    }

    public func setUserDisabled(_ name: String, disabled: Bool, by: String, now: Date = Date()) async throws {
        try await auditedWrite { db in
            guard try db.value(as: Bool.self, "SELECT 1 FROM users WHERE name = ?", [name]) != nil else { throw UserStoreError.unknown(name) }
            try db.run("UPDATE users SET disabled = ? WHERE name = ?", [disabled ? 1 : 0, name])
            if disabled { try db.run("DELETE FROM user_sessions WHERE user_name = ?", [name]) }
            try db.audit(kind: disabled ? "user.disabled" : "user.enabled", subject: Self.subject(user: name), data: ["by": .string(by)], at: now)
        }
    }

    /// A new password also lifts a lockout and ends the user's sessions.
    public func resetPassword(_ name: String, hash: String, by: String, now: Date = Date()) async throws {
        try await auditedWrite { db in
            guard let row = try db.row("SELECT locked_at FROM users WHERE name = ?", [name]) else { throw UserStoreError.unknown(name) }
            let wasLocked = (row["locked_at"] as Double?) != nil
            try db.run("UPDATE users SET password_hash = ?, password_set_at = ?, locked_at = NULL WHERE name = ?", [hash, now.dbValue, name])
            try db.run("DELETE FROM login_failures WHERE user_name = ?", [name])
            try db.run("DELETE FROM user_sessions WHERE user_name = ?", [name])
            try db.audit(kind: "user.password_reset", subject: Self.subject(user: name), data: ["by": .string(by), "unlocked": .bool(wasLocked)], at: now)
        }
    }

    public func recordAuthenticationFailure(_ name: String, context: String, policy: LockoutPolicy, now: Date = Date()) async throws -> Bool {
        try await auditedWrite { db in
            let subject = Self.subject(user: name)
            try db.audit(kind: "security.authentication_failed", subject: subject, data: ["context": .string(context)], at: now)
            // An unknown name is recorded (someone is guessing) but has nothing to lock.
            guard let row = try db.row("SELECT locked_at FROM users WHERE name = ?", [name]) else { return false }
            try db.run("DELETE FROM login_failures WHERE user_name = ? AND at < ?", [name, now.addingTimeInterval(-policy.window).dbValue])
            try db.run("INSERT INTO login_failures (user_name, at) VALUES (?, ?)", [name, now.dbValue])
            guard (row["locked_at"] as Double?) == nil else { return false }
            let failures = try db.rows("SELECT at FROM login_failures WHERE user_name = ?", [name]).map { Date(db: $0["at"]) }
            guard policy.locks(failures: failures, now: now) else { return false }
            try db.run("UPDATE users SET locked_at = ? WHERE name = ?", [now.dbValue, name])
            try db.run("DELETE FROM user_sessions WHERE user_name = ?", [name])
            try db.audit(kind: "security.user_locked", subject: subject, data: [
                "failures": .number(Double(failures.count)), "window_s": .number(policy.window),
            ], at: now)
            return true
        }
    }

    public func createSession(tokenSHA256: String, user: String, now: Date = Date()) async throws {
        try await auditedWrite { db in
            try db.run("INSERT INTO user_sessions (token_sha256, user_name, created_at, last_seen) VALUES (?, ?, ?, ?)",
                       [tokenSHA256, user, now.dbValue, now.dbValue])
            // The session's id in the trail is a prefix of the token's digest: enough to tell
            // sessions apart, useless for presenting.
            try db.audit(kind: "user.login", subject: Self.subject(user: user), data: ["session": .string(String(tokenSHA256.prefix(12)))], at: now)
        }
    }

    public func resumeSession(tokenSHA256: String, idle: TimeInterval, now: Date = Date()) async throws -> UserRecord? {
        let found = try await read { db -> (UserRecord, Double)? in
            guard let s = try db.row("SELECT user_name, last_seen FROM user_sessions WHERE token_sha256 = ?", [tokenSHA256]),
                  let u = try db.row("SELECT * FROM users WHERE name = ?", [s["user_name"] as String]) else { return nil }
            return (Self.userRecord(u), s["last_seen"])
        }
        guard let (user, lastSeen) = found else { return nil }
        let seen = Date(db: lastSeen)
        guard user.isActive, now.timeIntervalSince(seen) < idle else {
            _ = try await endSession(tokenSHA256: tokenSHA256, now: now, reason: user.isActive ? "idle" : "inactive")
            return nil
        }
        // Touched at most every few seconds: a page's burst of requests is one write.
        if now.timeIntervalSince(seen) > 5 {
            _ = try await write { db in
                try db.run("UPDATE user_sessions SET last_seen = ? WHERE token_sha256 = ? AND last_seen < ?", [now.dbValue, tokenSHA256, now.dbValue])
            }
        }
        return user
    }

    public func endSession(tokenSHA256: String, now: Date = Date()) async throws -> Bool {
        try await endSession(tokenSHA256: tokenSHA256, now: now, reason: "logout")
    }

    func endSession(tokenSHA256: String, now: Date, reason: String) async throws -> Bool {
        try await auditedWrite { db in
            guard let user = try db.value(as: String.self, "SELECT user_name FROM user_sessions WHERE token_sha256 = ?", [tokenSHA256]) else { return false }
            try db.run("DELETE FROM user_sessions WHERE token_sha256 = ?", [tokenSHA256])
            try db.audit(kind: "user.logout", subject: Self.subject(user: user), data: [
                "session": .string(String(tokenSHA256.prefix(12))), "reason": .string(reason),
            ], at: now)
            return true
        }
    }

    public func auditRecords(_ q: AuditQuery) async throws -> [AuditRecord] {
        try await read { db in
            var sql = "SELECT * FROM audit WHERE seq > ?"
            var args: [SQLValue] = [.integer(q.afterSeq)]
            if let s = q.subject { sql += " AND subject = ?"; args.append(.text(s)) }
            if let k = q.kind { sql += " AND kind = ?"; args.append(.text(k)) }
            if let s = q.since { sql += " AND at >= ?"; args.append(.real(s.dbValue)) }
            if let u = q.until { sql += " AND at < ?"; args.append(.real(u.dbValue)) }
            sql += " ORDER BY seq LIMIT ?"
            args.append(.integer(Int64(q.limit)))
            return try db.rows(sql, SQLArguments(args)).map(Self.auditRecord)
        }
    }

    public func signatures(subject: String) async throws -> [SignatureManifest] {
        try await read { db in
            try db.rows("SELECT * FROM audit WHERE subject = ? AND kind = ? ORDER BY seq", [subject, SignatureManifest.auditKind]).compactMap { r in
                let a = Self.auditRecord(r)
                return SignatureManifest(auditData: a.data, at: a.at)
            }
        }
    }

    static func userRecord(_ r: SQLRow) -> UserRecord {
        UserRecord(name: r["name"], fullName: r["full_name"], role: UserRole(rawValue: r["role"]) ?? .viewer,
                   passwordHash: r["password_hash"], totpSecret: r["totp_secret"], disabled: (r["disabled"] as Int64) != 0,
                   lockedAt: (r["locked_at"] as Double?).map(Date.init(db:)), createdAt: Date(db: r["created_at"]),
                   passwordSetAt: Date(db: r["password_set_at"]))
    }
}

extension SQLSession {
    /// Signs the audit record this transaction appended last, with a signature record right
    /// after it that carries a digest of its content (`SignatureManifest.bindingProblem`).
    @discardableResult
    func sign(_ intent: SignatureIntent?) throws -> SignatureManifest? {
        guard let intent, let signed = auditBuffer.entries.last else { return nil }
        let manifest = SignatureManifest(user: intent.user, fullName: intent.fullName, meaning: intent.meaning, action: signed.kind,
                                         signedAt: signed.at, timeZone: intent.timeZone,
                                         signs: Hashing.sha256Hex(signed.canonical.json(seq: 0)))
        try audit(kind: SignatureManifest.auditKind, subject: signed.subject, data: manifest.auditData, at: signed.at)
        return manifest
    }
}
