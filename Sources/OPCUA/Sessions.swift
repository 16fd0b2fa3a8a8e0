import NIOCore

/// A user who may log in with a UserName token, and what they may do.
public struct UserAccount: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable {
        /// May reset RejectPart.
        case `operator`
        /// Reads and browses only.
        case viewer
    }

    public var name: String
    public var password: String
    public var role: Role

    public init(name: String, password: String, role: Role = .operator) {
        self.name = name
        self.password = password
        self.role = role
    }
}

/// Who may open a session and how many at once.
public struct SessionPolicy: Hashable, Sendable {
    public var allowAnonymous: Bool
    public var users: [UserAccount]
    public var maxSessions: Int
    /// Milliseconds; a client's requested timeout is revised into this range.
    public var minimumTimeout: Double
    public var maximumTimeout: Double

    public init(allowAnonymous: Bool, users: [UserAccount], maxSessions: Int = 64, minimumTimeout: Double = 10_000, maximumTimeout: Double = 3_600_000) {
        self.allowAnonymous = allowAnonymous
        self.users = users
        self.maxSessions = maxSessions
        self.minimumTimeout = minimumTimeout
        self.maximumTimeout = maximumTimeout
    }

    public static let anonymousPolicyId = "anonymous"
    public static let userNamePolicyId = "username"

    /// The identity tokens an endpoint of SecurityPolicy None offers.
    public var userTokenPolicies: [UserTokenPolicy] {
        var policies: [UserTokenPolicy] = []
        if allowAnonymous { policies.append(UserTokenPolicy(policyId: Self.anonymousPolicyId, tokenType: .anonymous)) }
        // Under None the password travels in the clear: the policy says so (Part 4 §7.43).
        if !users.isEmpty {
            policies.append(UserTokenPolicy(policyId: Self.userNamePolicyId, tokenType: .userName, securityPolicyUri: SecurityPolicyNone.uri))
        }
        return policies
    }
}

/// One session (Part 4 §5.6): created on a secure channel, activated with an identity, closed
/// by the client or by its timeout.
public struct Session: Hashable, Sendable {
    public enum Identity: Hashable, Sendable {
        case anonymous
        case user(name: String, role: UserAccount.Role)
    }

    public var sessionId: NodeId
    public var authenticationToken: NodeId
    public var name: String?
    public var channelId: UInt32
    /// Milliseconds.
    public var timeout: Double
    public var lastUsed: Moment
    /// Nil until ActivateSession succeeds.
    public var identity: Identity?

    public var mayResetRejectPart: Bool {
        if case .user(_, .operator) = identity { return true }
        return false
    }
}

/// The sessions of one server, sans I/O: creation under the limit, activation against the
/// policy, lookup by authentication token from the right channel, and expiry.
public struct SessionTable: Sendable {
    public let policy: SessionPolicy
    public private(set) var sessions: [NodeId: Session] = [:]
    private var nextSessionNumber: UInt32 = 1
    private let namespaceIndex: UInt16

    /// Session ids live in `namespaceIndex` (the server's own namespace).
    public init(policy: SessionPolicy, namespaceIndex: UInt16) {
        self.policy = policy
        self.namespaceIndex = namespaceIndex
    }

    public enum Failure: Error, Hashable {
        case status(StatusCode)
    }

    /// CreateSession: a new, not yet activated session bound to `channelId`.
    public mutating func create(name: String?, requestedTimeout: Double, channelId: UInt32, at now: Moment,
                                randomToken: [UInt8]) throws(Failure) -> Session {
        guard sessions.count < policy.maxSessions else { throw .status(.badTooManySessions) }
        let timeout = requestedTimeout.isFinite && requestedTimeout > 0
            ? min(max(requestedTimeout, policy.minimumTimeout), policy.maximumTimeout) : policy.maximumTimeout
        let session = Session(sessionId: NodeId(namespaceIndex: namespaceIndex, numeric: nextSessionNumber),
                              authenticationToken: NodeId(namespaceIndex: namespaceIndex, .opaque(randomToken)),
                              name: name.map { String($0.prefix(256)) }, channelId: channelId, timeout: timeout, lastUsed: now)
        nextSessionNumber = nextSessionNumber == .max ? 1 : nextSessionNumber + 1
        sessions[session.authenticationToken] = session
        return session
    }

    /// The session a request's authentication token names, refreshed; it must exist, belong to
    /// `channelId` and (unless `activated` is false) be activated.
    public mutating func use(_ token: NodeId, channelId: UInt32, at now: Moment, activated: Bool = true) throws(Failure) -> Session {
        guard var session = sessions[token] else { throw .status(.badSessionIdInvalid) }
        guard session.channelId == channelId else { throw .status(.badSecureChannelIdInvalid) }
        guard !activated || session.identity != nil else { throw .status(.badSessionNotActivated) }
        session.lastUsed = now
        sessions[token] = session
        return session
    }

    /// ActivateSession with an Anonymous or UserName token (Part 4 §5.6.3, §7.41). A session
    /// may be activated again (a new identity), and moved to the channel the request came on.
    public mutating func activate(_ token: NodeId, identity: ExtensionObject, channelId: UInt32, at now: Moment,
                                  limits: DecodingLimits) throws(Failure) -> Session {
        guard var session = sessions[token] else { throw .status(.badSessionIdInvalid) }
        let resolved: Session.Identity
        do {
            resolved = try authenticate(identity, limits: limits)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .status(.badIdentityTokenInvalid)
        }
        session.identity = resolved
        session.channelId = channelId
        session.lastUsed = now
        sessions[token] = session
        return session
    }

    private func authenticate(_ token: ExtensionObject, limits: DecodingLimits) throws -> Session.Identity {
        // An empty token is Anonymous (Part 4 §5.6.3.2).
        if token.typeId.isNull || token.typeId == AnonymousIdentityToken.binaryEncodingId {
            guard policy.allowAnonymous else { throw Failure.status(.badIdentityTokenRejected) }
            return .anonymous
        }
        guard let user = try token.decodeBody(UserNameIdentityToken.self, encodingId: UserNameIdentityToken.binaryEncodingId, limits: limits) else {
            throw Failure.status(.badIdentityTokenInvalid)
        }
        guard !users.isEmpty else { throw Failure.status(.badIdentityTokenRejected) }
        // Under SecurityPolicy None the password is plain UTF-8; an encrypted one cannot be read.
        guard user.encryptionAlgorithm == nil || user.encryptionAlgorithm == "" else { throw Failure.status(.badIdentityTokenInvalid) }
        let offered = user.password ?? []
        // Every account is checked, so the time taken does not say which names exist.
        var match: UserAccount?
        for account in users where constantTimeEqual(Array(account.password.utf8), offered) && account.name == user.userName {
            match = account
        }
        guard let match else { throw Failure.status(.badUserAccessDenied) }
        return .user(name: match.name, role: match.role)
    }

    private var users: [UserAccount] { policy.users }

    /// CloseSession.
    public mutating func close(_ token: NodeId, channelId: UInt32) throws(Failure) {
        guard let session = sessions[token] else { throw .status(.badSessionIdInvalid) }
        guard session.channelId == channelId else { throw .status(.badSecureChannelIdInvalid) }
        sessions[token] = nil
    }

    /// Drops the sessions idle for longer than their timeout; returns how many went.
    @discardableResult
    public mutating func expire(at now: Moment) -> Int {
        let before = sessions.count
        sessions = sessions.filter { _, s in now.monotonic < s.lastUsed.monotonic + TimeAmount.milliseconds(Int64(exactly: s.timeout.rounded(.down)) ?? 0) }  // never nil: clamped at creation
        return before - sessions.count
    }
}

/// Compares without stopping at the first difference.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<max(a.count, b.count) {
        difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
    }
    return difference == 0
}
