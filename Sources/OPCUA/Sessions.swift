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

    /// The identity tokens an endpoint of `policy` offers. A UserName password is encrypted
    /// with the endpoint's policy; under None it travels in the clear, and the token policy says
    /// so (Part 4 §7.43).
    public func userTokenPolicies(for policy: SecurityPolicy = .none) -> [UserTokenPolicy] {
        var policies: [UserTokenPolicy] = []
        if allowAnonymous { policies.append(UserTokenPolicy(policyId: Self.anonymousPolicyId, tokenType: .anonymous)) }
        if !users.isEmpty {
            policies.append(UserTokenPolicy(policyId: Self.userNamePolicyId, tokenType: .userName, securityPolicyUri: policy.uri))
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
    /// The channel security the session was created under; activation must come the same way.
    public var security: ChannelSecurity = ChannelSecurity()
    /// The last nonce the server sent (CreateSession, then each ActivateSession): the client signs
    /// it, and an encrypted password carries it.
    public var serverNonce: [UInt8] = []

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
                                randomToken: [UInt8], security: ChannelSecurity = ChannelSecurity(), serverNonce: [UInt8] = []) throws(Failure) -> Session {
        guard sessions.count < policy.maxSessions else { throw .status(.badTooManySessions) }
        let timeout = requestedTimeout.isFinite && requestedTimeout > 0
            ? min(max(requestedTimeout, policy.minimumTimeout), policy.maximumTimeout) : policy.maximumTimeout
        let session = Session(sessionId: NodeId(namespaceIndex: namespaceIndex, numeric: nextSessionNumber),
                              authenticationToken: NodeId(namespaceIndex: namespaceIndex, .opaque(randomToken)),
                              name: name.map { String($0.prefix(256)) }, channelId: channelId, timeout: timeout, lastUsed: now,
                              security: security, serverNonce: serverNonce)
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

    /// What ActivateSession brings beside the identity token, under a secured channel.
    public struct Proof {
        /// The channel the request came on.
        public var security: ChannelSecurity
        /// The client's signature over the server certificate and the last server nonce.
        public var clientSignature: SignatureData
        /// The server's key, which decrypts an encrypted password.
        public var server: ServerIdentity?
        /// The nonce to send back, which the next activation signs.
        public var nextNonce: [UInt8]

        public init(security: ChannelSecurity = ChannelSecurity(), clientSignature: SignatureData = SignatureData(), server: ServerIdentity? = nil,
                    nextNonce: [UInt8] = []) {
            self.security = security
            self.clientSignature = clientSignature
            self.server = server
            self.nextNonce = nextNonce
        }
    }

    /// ActivateSession with an Anonymous or UserName token (Part 4 §5.6.3, §7.41). A session
    /// may be activated again (a new identity), and moved to another channel of the same
    /// security and client certificate. Under a secured policy the client's signature must
    /// verify (BadApplicationSignatureInvalid) and a password must come encrypted.
    public mutating func activate(_ token: NodeId, identity: ExtensionObject, channelId: UInt32, at now: Moment,
                                  limits: DecodingLimits, proof: Proof = Proof()) throws(Failure) -> Session {
        guard var session = sessions[token] else { throw .status(.badSessionIdInvalid) }
        guard proof.security == session.security else { throw .status(.badSecurityChecksFailed) }
        if session.security.policy != .none {
            guard let client = session.security.clientCertificate, let server = proof.server,
                  proof.clientSignature.algorithm == SecurityPolicy.asymmetricSignatureURI,
                  client.verify(proof.clientSignature.signature ?? [], over: server.certificate + session.serverNonce) else {
                throw .status(.badApplicationSignatureInvalid)
            }
        }
        let resolved: Session.Identity
        do {
            resolved = try authenticate(identity, limits: limits, session: session, server: proof.server)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .status(.badIdentityTokenInvalid)
        }
        session.identity = resolved
        session.channelId = channelId
        session.lastUsed = now
        session.serverNonce = proof.nextNonce
        sessions[token] = session
        return session
    }

    private func authenticate(_ token: ExtensionObject, limits: DecodingLimits, session: Session, server: ServerIdentity?) throws -> Session.Identity {
        // An empty token is Anonymous (Part 4 §5.6.3.2).
        if token.typeId.isNull || token.typeId == AnonymousIdentityToken.binaryEncodingId {
            guard policy.allowAnonymous else { throw Failure.status(.badIdentityTokenRejected) }
            return .anonymous
        }
        guard let user = try token.decodeBody(UserNameIdentityToken.self, encodingId: UserNameIdentityToken.binaryEncodingId, limits: limits) else {
            throw Failure.status(.badIdentityTokenInvalid)
        }
        guard !users.isEmpty else { throw Failure.status(.badIdentityTokenRejected) }
        let offered: [UInt8]
        if session.security.policy == .none {
            // Under SecurityPolicy None the password is plain UTF-8; an encrypted one cannot be read.
            guard user.encryptionAlgorithm == nil || user.encryptionAlgorithm == "" else { throw Failure.status(.badIdentityTokenInvalid) }
            offered = user.password ?? []
        } else {
            // The endpoint's token policy asked for the password encrypted with the channel's policy.
            guard user.encryptionAlgorithm == SecurityPolicy.asymmetricEncryptionURI, let server else {
                throw Failure.status(.badIdentityTokenInvalid)
            }
            offered = try Self.decryptPassword(user.password ?? [], server: server, nonce: session.serverNonce)
        }
        // Every account is checked, so the time taken does not say which names exist.
        var match: UserAccount?
        for account in users where constantTimeEqual(Array(account.password.utf8), offered) && account.name == user.userName {
            match = account
        }
        guard let match else { throw Failure.status(.badUserAccessDenied) }
        return .user(name: match.name, role: match.role)
    }

    /// Part 4 §7.41.2.2, the legacy layout: RSA-OAEP over a UInt32 length, the password, and the
    /// last server nonce, which must be the one this session was sent.
    static func decryptPassword(_ secret: [UInt8], server: ServerIdentity, nonce: [UInt8]) throws -> [UInt8] {
        let plain: [UInt8]
        do { plain = try server.decrypt(secret) } catch { throw Failure.status(.badIdentityTokenInvalid) }
        guard plain.count >= 4 else { throw Failure.status(.badIdentityTokenInvalid) }
        let length = Int(plain[0]) | Int(plain[1]) << 8 | Int(plain[2]) << 16 | Int(plain[3]) << 24
        guard length >= nonce.count, length <= plain.count - 4 else { throw Failure.status(.badIdentityTokenInvalid) }
        let secretBytes = plain[4..<(4 + length)]
        guard constantTimeEqual(Array(secretBytes.suffix(nonce.count)), nonce) else { throw Failure.status(.badIdentityTokenInvalid) }
        return Array(secretBytes.dropLast(nonce.count))
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
