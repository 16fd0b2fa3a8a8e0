import Crypto
import Foundation
import HummingbirdBcrypt
import HummingbirdOTP
import Metrics
import MillwrightCore
import NIOPosix
import Store

/// Why a login or a signature was refused. The messages never say whether the name exists.
public enum AccountsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Wrong name, password or one-time code; counts towards the lockout.
    case badCredentials
    /// The account is locked (too many failures) or disabled.
    case inactive(locked: Bool)
    /// Part 11 is on and the request carries no `signature`.
    case signatureRequired(action: String)
    /// The signer is not the person logged in to this session.
    case signerMismatch(session: String, signer: String)
    /// The signer's role may not make this decision (§11.10(g)).
    case signerNotAuthorized(signer: String, role: String, action: String)
    case badSignature(String)
    /// Too many password checks are already waiting: bcrypt is deliberately slow.
    case busy

    public var description: String {
        switch self {
        case .badCredentials: "the user name, password or one-time code is wrong"
        case .inactive(let locked):
            locked ? "the account is locked after repeated failed attempts; an admin must reset its password (millwright users reset-password)"
                : "the account is disabled"
        case .signatureRequired(let action):
            "\(action) is a regulated decision here (compliance.part11): add \"signature\": {\"user\", \"password\", \"meaning\"} to the request body"
        case .signerMismatch(let session, let signer): "signed as \(signer) in a session of \(session): sign as yourself"
        case .signerNotAuthorized(let signer, let role, let action): "\(signer) has role \(role), which may not sign \(action)"
        case .badSignature(let why): why
        case .busy: "too many password checks at once; retry in a second"
        }
    }
}

/// A signature as a request carries it: the signer re-enters their password each time.
public struct SignatureRequest: Sendable, Equatable {
    public var user: String
    public var password: String
    public var meaning: String
    public init(user: String, password: String, meaning: String) { self.user = user; self.password = password; self.meaning = meaning }

    /// Reads `"signature": {"user","password","meaning"}` from a request body.
    public init?(_ value: JSONValue?) throws(AccountsError) {
        guard let value else { return nil }
        guard let o = value.objectValue, let user = o["user"]?.stringValue, let password = o["password"]?.stringValue,
              let meaning = o["meaning"]?.stringValue else {
            throw .badSignature("signature must be an object with string fields user, password and meaning")
        }
        guard user.utf8.count <= 64, password.utf8.count <= 1024, meaning.utf8.count <= 32 else {
            throw .badSignature("signature fields are too long")
        }
        self.init(user: user, password: password, meaning: meaning)
    }
}

/// Logins, sessions and signatures over the user store. Password checks run on NIO's thread
/// pool (bcrypt takes a quarter of a second on purpose), at most `maxChecks` at once.
public final class Accounts: Sendable {
    public let store: any UserStore
    public let settings: ComplianceSettings
    public let timeZone: TimeZone
    public let lockout = LockoutPolicy()
    /// Told when a user is locked out: the gateway's alert (log, audit, security contacts).
    let onLocked: @Sendable (_ user: String) async -> Void
    private let gate = CheckGate(limit: 2, queue: 64)
    private let securityEvents = Counter(label: "millwright_security_events_total", dimensions: [("kind", "authentication_failed")])
    private let lockouts = Counter(label: "millwright_security_events_total", dimensions: [("kind", "user_locked")])

    /// Session tokens say what they are, so the API tells them from API keys without a lookup.
    public static let tokenPrefix = "mws_"
    public static let bcryptCost: UInt8 = 12

    public init(store: any UserStore, settings: ComplianceSettings, timeZone: TimeZone, onLocked: @escaping @Sendable (String) async -> Void = { _ in }) {
        self.store = store
        self.settings = settings
        self.timeZone = timeZone
        self.onLocked = onLocked
    }

    public var idle: TimeInterval { Double(settings.sessionIdle.components.seconds) }

    // MARK: Passwords

    public static func hashPassword(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: bcryptCost) }
    }

    /// A bcrypt hash of nothing anyone knows: an unknown user costs as much time as a known one.
    private static let decoy = Bcrypt.hash(UUID().uuidString, cost: bcryptCost)

    func check(_ password: String, against hash: String?) async throws -> Bool {
        guard await gate.enter() else { throw AccountsError.busy }
        let candidate = hash ?? Self.decoy
        let ok: Bool
        do { ok = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: candidate) } } catch {
            await gate.leave()
            throw error
        }
        await gate.leave()
        return ok && hash != nil
    }

    /// Checks a name and password (and the one-time code when the user has one). Every
    /// failure is recorded; the third within 15 minutes locks the account.
    public func authenticate(user name: String, password: String, totp: String?, context: String, now: Date = Date()) async throws -> UserRecord {
        let user = try await store.user(named: name)
        guard try await check(password, against: user?.passwordHash), let user else {
            try await fail(name, context: context, now: now)
            throw AccountsError.badCredentials
        }
        guard user.isActive else { throw AccountsError.inactive(locked: user.lockedAt != nil) }
        if let secret = user.totpSecret {
            guard let totp, Self.totpMatches(totp, secret: secret, now: now) else {
                try await fail(name, context: context + " (one-time code)", now: now)
                throw AccountsError.badCredentials
            }
        }
        return user
    }

    private func fail(_ name: String, context: String, now: Date) async throws {
        securityEvents.increment()
        if try await store.recordAuthenticationFailure(name, context: context, policy: lockout, now: now) {
            lockouts.increment()
            await onLocked(name)
        }
    }

    /// The code of this 30 s step or the one either side: phones and servers drift.
    static func totpMatches(_ code: String, secret: String, now: Date) -> Bool {
        guard code.count == 6, let n = Int(code) else { return false }
        let totp = TOTP(secret: secret)
        return [-30.0, 0, 30].contains { totp.compute(date: now.addingTimeInterval($0)) == n }
    }

    /// A new random TOTP secret and the otpauth:// URL an authenticator app scans.
    public static func newTOTP(user: String, issuer: String) -> (secret: String, url: String) {
        let secret = SymmetricKey(size: SymmetricKeySize(bitCount: 160)).withUnsafeBytes { Data($0).base64EncodedString() }
        return (secret, TOTP(secret: secret).createAuthenticatorURL(label: user, issuer: issuer))
    }

    // MARK: Sessions

    public struct Session: Sendable {
        public var token: String
        public var expiresAt: Date
        public var user: UserRecord
    }

    public func login(user: String, password: String, totp: String?, now: Date = Date()) async throws -> Session {
        let record = try await authenticate(user: user, password: password, totp: totp, context: "login", now: now)
        let token = Self.tokenPrefix + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64URLEncoded
        try await store.createSession(tokenSHA256: Self.digest(token), user: record.name, now: now)
        return Session(token: token, expiresAt: now.addingTimeInterval(idle), user: record)
    }

    /// The user of a live session token, which this use keeps alive; nil when it is not one.
    public func resume(token: String, now: Date = Date()) async throws -> UserRecord? {
        guard token.hasPrefix(Self.tokenPrefix), token.utf8.count <= 128 else { return nil }
        return try await store.resumeSession(tokenSHA256: Self.digest(token), idle: idle, now: now)
    }

    public func logout(token: String, now: Date = Date()) async throws -> Bool {
        try await store.endSession(tokenSHA256: Self.digest(token), now: now)
    }

    static func digest(_ token: String) -> String { Hex.encode(Array(SHA256.hash(data: Data(token.utf8)))) }

    // MARK: Signatures

    /// The signature a regulated `action` needs: nil when Part 11 is off and none was given.
    /// The password is checked now, even inside a session, and a wrong one counts as a failure.
    public func signature(for action: String, _ request: SignatureRequest?, sessionUser: String?, allowed: (UserRole) -> Bool,
                          now: Date = Date()) async throws -> SignatureIntent? {
        guard let request else {
            if settings.part11 { throw AccountsError.signatureRequired(action: action) }
            return nil
        }
        guard let meaning = SignatureMeaning(rawValue: request.meaning) else {
            throw AccountsError.badSignature("meaning must be one of \(SignatureMeaning.allCases.map(\.rawValue).joined(separator: ", ")), got '\(request.meaning)'")
        }
        if let sessionUser, sessionUser != request.user { throw AccountsError.signerMismatch(session: sessionUser, signer: request.user) }
        let user = try await authenticate(user: request.user, password: request.password, totp: nil, context: "signature: \(action)", now: now)
        guard allowed(user.role) else { throw AccountsError.signerNotAuthorized(signer: user.name, role: user.role.rawValue, action: action) }
        return SignatureIntent(user: user.name, fullName: user.fullName, meaning: meaning, timeZone: timeZone)
    }
}

/// At most `limit` password checks run at once and `queue` wait; more are refused at once,
/// so a flood of logins cannot hold every request behind bcrypt.
actor CheckGate {
    let limit: Int, queue: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int, queue: Int) { self.limit = limit; self.queue = queue }

    func enter() async -> Bool {
        if running < limit { running += 1; return true }
        guard waiting.count < queue else { return false }
        await withCheckedContinuation { waiting.append($0) }
        return true
    }

    func leave() {
        if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
    }
}

extension Data {
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
