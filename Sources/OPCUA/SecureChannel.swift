import NIOCore

/// A point in time as the state machines see it: a monotonic instant for lifetimes and
/// timeouts, and the wall clock for the timestamps sent to clients.
public struct Moment: Hashable, Sendable {
    public var monotonic: NIODeadline
    public var wall: DateTime

    public init(monotonic: NIODeadline, wall: DateTime) {
        self.monotonic = monotonic
        self.wall = wall
    }

    public func adding(milliseconds: Int64) -> Moment {
        Moment(monotonic: monotonic + .milliseconds(milliseconds), wall: DateTime(ticks: wall.ticks &+ milliseconds &* 10_000))
    }
}

/// What a ``SecureChannel`` accepts.
public struct SecureChannelConfiguration: Hashable, Sendable {
    public var transport: TransportLimits
    /// Token lifetimes are revised into this range (milliseconds); a request for 0 gets the maximum.
    public var minimumTokenLifetime: UInt32
    public var maximumTokenLifetime: UInt32
    /// Requests received and not yet answered (Publish requests wait for news).
    public var maxPendingRequests: Int
    public var decodingLimits: DecodingLimits

    public init(transport: TransportLimits = TransportLimits(), minimumTokenLifetime: UInt32 = 10_000, maximumTokenLifetime: UInt32 = 3_600_000,
                maxPendingRequests: Int = 128, decodingLimits: DecodingLimits = DecodingLimits()) {
        self.transport = transport
        self.minimumTokenLifetime = minimumTokenLifetime
        self.maximumTokenLifetime = maximumTokenLifetime
        self.maxPendingRequests = maxPendingRequests
        self.decodingLimits = decodingLimits
    }
}

/// The server side of one UA-TCP connection and the secure channel it carries (Part 6 §6.7,
/// §7.1), sans I/O: bytes in, bytes out and service requests up. It answers Hello, issues and
/// renews security tokens, closes on CloseSecureChannel, and refuses, with an Error message and
/// the end of the connection, anything out of order: a wrong channel id, an unknown or expired
/// token, a sequence number out of turn, a request id already waiting for its answer.
///
/// Part 6 §6.7.4 on renewal: the old token stays valid until the client first uses the new one
/// (or the old one expires); responses go out under the new token from then on.
public struct SecureChannel<Security: ChunkSecurity> {
    public enum State: Hashable, Sendable {
        case awaitingHello, awaitingOpen, open, closed
    }

    /// What the I/O shell does next, in order.
    public enum Output: Hashable, Sendable {
        /// Bytes to write.
        case send(ByteBuffer)
        /// A service request for the layer above: answer it with ``respond(to:with:)``.
        case request(requestId: UInt32, body: ByteBuffer)
        /// Close the connection once what was sent before is written.
        case close
    }

    private struct Token {
        var token: ChannelSecurityToken
        var expires: NIODeadline
    }

    public let channelId: UInt32
    public let configuration: SecureChannelConfiguration
    public private(set) var state = State.awaitingHello
    /// The policy in force, for the layers above (which policy and mode a session runs under).
    public private(set) var security: Security
    private var assembler = ChunkAssembler()
    private var sendLimits = ChunkLimits.beforeHello
    private var current: Token?
    /// The token before the last renewal, until the client uses the new one.
    private var previous: Token?
    private var pending: Set<UInt32> = []
    private var nextTokenId: UInt32 = 1
    private var randomBytes: (Int) -> [UInt8]

    /// `channelId` is the server's, unique among its open channels and never 0.
    public init(channelId: UInt32, security: Security, configuration: SecureChannelConfiguration = SecureChannelConfiguration(),
                randomBytes: @escaping (Int) -> [UInt8] = { count in (0..<count).map { _ in UInt8.random(in: .min ... .max) } }) {
        precondition(channelId != 0, "secure channel id 0 means none")
        self.channelId = channelId
        self.security = security
        self.configuration = configuration
        self.randomBytes = randomBytes
    }

    /// The token MSG requests may be secured with now, newest first.
    public var validTokenIds: [UInt32] { [current, previous].compactMap { $0?.token.tokenId } }

    /// Takes bytes as they come from the socket.
    public mutating func receive(_ bytes: ByteBuffer, at now: Moment) -> [Output] {
        guard state != .closed else { return [] }
        assembler.append(bytes)
        var out: [Output] = []
        do {
            while state != .closed, let message = try assembler.next(security: &security) {
                try handle(message, at: now, into: &out)
            }
        } catch {
            out.append(contentsOf: fail(error))
        }
        return out
    }

    private mutating func handle(_ message: AssembledMessage, at now: Moment, into out: inout [Output]) throws {
        switch message {
        case .transport(.hello(let hello)):
            guard state == .awaitingHello else { throw TransportError(.badTcpMessageTypeInvalid, "Hello on a connection that had one") }
            let negotiation = try HelloNegotiation(ours: configuration.transport, hello: hello)
            assembler.limits = negotiation.receive
            sendLimits = negotiation.send
            out.append(.send(try TransportMessage.acknowledge(negotiation.acknowledge).encoded()))
            state = .awaitingOpen
        case .transport(let other):
            throw TransportError(.badTcpMessageTypeInvalid, "a client does not send \(other.messageType.rawValue)")
        case .aborted:
            // The client gave the request up; nothing of it was handed on.
            break
        case let .secure(type, secureChannelId, requestId, tokenId, body):
            guard state != .awaitingHello else { throw TransportError(.badTcpMessageTypeInvalid, "\(type.rawValue) before Hello") }
            switch type {
            case .openSecureChannel:
                out.append(contentsOf: try open(secureChannelId: secureChannelId, requestId: requestId, body: body, at: now))
            case .message, .closeSecureChannel:
                guard state == .open else { throw TransportError(.badTcpMessageTypeInvalid, "\(type.rawValue) before OpenSecureChannel") }
                guard secureChannelId == channelId else {
                    throw TransportError(.badSecureChannelIdInvalid, "secure channel \(secureChannelId) is not this connection's \(channelId)")
                }
                try checkToken(tokenId, at: now)
                if type == .closeSecureChannel {
                    // Part 4 §5.5.3: no response; the server closes the channel.
                    state = .closed
                    out.append(.close)
                    return
                }
                guard !pending.contains(requestId) else {
                    throw TransportError(.badRequestHeaderInvalid, "request id \(requestId) is already waiting for its response")
                }
                guard pending.count < configuration.maxPendingRequests else {
                    throw TransportError(.badTooManyOperations, "more than \(configuration.maxPendingRequests) requests waiting")
                }
                pending.insert(requestId)
                out.append(.request(requestId: requestId, body: body))
            case .hello, .acknowledge, .error, .reverseHello:
                throw TransportError(.badTcpMessageTypeInvalid, "\(type.rawValue) is not a secure conversation message")
            }
        }
    }

    /// The token of a MSG or CLO chunk: the current one (which retires the previous), or the
    /// previous one while the client has not used the current one yet; neither expired.
    private mutating func checkToken(_ tokenId: UInt32?, at now: Moment) throws {
        if let current, current.token.tokenId == tokenId {
            guard now.monotonic < current.expires else {
                throw TransportError(.badSecureChannelTokenUnknown, "token \(current.token.tokenId) expired")
            }
            if let previous {
                security.retireToken(previous.token.tokenId)
                security.sendUnder(tokenId: current.token.tokenId)
                self.previous = nil
            }
            return
        }
        if let previous, previous.token.tokenId == tokenId {
            guard now.monotonic < previous.expires else {
                throw TransportError(.badSecureChannelTokenUnknown, "token \(previous.token.tokenId) expired")
            }
            return
        }
        throw TransportError(.badSecureChannelTokenUnknown, "token \(tokenId.map(String.init) ?? "none") is not valid on channel \(channelId)")
    }

    /// OpenSecureChannel, Issue (the first) or Renew (Part 4 §5.5.2).
    private mutating func open(secureChannelId: UInt32, requestId: UInt32, body: ByteBuffer, at now: Moment) throws -> [Output] {
        var reader = BinaryReader(body, limits: configuration.decodingLimits)
        let typeId: NodeId = try reader.read()
        guard typeId == OpenSecureChannelRequest.binaryEncodingId else {
            throw TransportError(.badTcpMessageTypeInvalid, "an OPN message carrying \(typeId)")
        }
        let request: OpenSecureChannelRequest = try reader.read()
        try reader.expectEnd("OpenSecureChannelRequest")
        switch request.requestType {
        case .issue:
            guard state == .awaitingOpen, secureChannelId == 0 else {
                throw TransportError(.badRequestTypeInvalid, "Issue on a connection whose channel is already open")
            }
        case .renew:
            guard state == .open else { throw TransportError(.badRequestTypeInvalid, "Renew before the channel was issued") }
            guard secureChannelId == channelId else {
                throw TransportError(.badSecureChannelIdInvalid, "Renew of channel \(secureChannelId) on channel \(channelId)")
            }
        }
        try security.acceptMode(request.securityMode, renewal: request.requestType == .renew)
        let clientNonce = request.clientNonce ?? []
        guard clientNonce.count == security.nonceLength || security.nonceLength == 0 else {
            throw TransportError(.badNonceInvalid, "client nonce of \(clientNonce.count) bytes, the policy needs \(security.nonceLength)")
        }
        let lifetime = request.requestedLifetime == 0
            ? configuration.maximumTokenLifetime
            : min(max(request.requestedLifetime, configuration.minimumTokenLifetime), configuration.maximumTokenLifetime)
        let token = ChannelSecurityToken(channelId: channelId, tokenId: nextTokenId, createdAt: now.wall, revisedLifetime: lifetime)
        nextTokenId = nextTokenId == .max ? 1 : nextTokenId + 1
        let serverNonce = randomBytes(security.nonceLength)
        try security.installToken(token.tokenId, clientNonce: clientNonce, serverNonce: serverNonce)
        let issued = Token(token: token, expires: now.monotonic + .milliseconds(Int64(lifetime)))
        if request.requestType == .issue {
            security.sendUnder(tokenId: token.tokenId)
        } else if previous != nil, let unused = current {
            // A second renewal before the client used the first: the client still sends under
            // `previous`, and the token it never used goes.
            security.retireToken(unused.token.tokenId)
        } else {
            previous = current
        }
        current = issued
        state = .open
        let response = OpenSecureChannelResponse(responseHeader: ResponseHeader(answering: request.requestHeader, at: now.wall),
                                                 securityToken: token, serverNonce: serverNonce)
        let chunks = try splitIntoChunks(type: .openSecureChannel, secureChannelId: channelId, requestId: requestId,
                                         body: try response.encodedMessage(), limits: sendLimits, security: &security)
        return chunks.map { .send($0) }
    }

    /// The response to a request handed up as ``Output/request(requestId:body:)``, in chunks.
    /// Throws ``TransportError`` when it cannot be sent (too large for the client's limits): the
    /// request stays pending, so the caller can answer with a ServiceFault instead.
    public mutating func respond(to requestId: UInt32, with body: ByteBuffer) throws -> [ByteBuffer] {
        guard state == .open else { throw TransportError(.badSecureChannelClosed, "the channel is closed") }
        guard pending.contains(requestId) else {
            throw TransportError(.badTcpInternalError, "request \(requestId) is not waiting for a response")
        }
        let chunks = try splitIntoChunks(type: .message, secureChannelId: channelId, requestId: requestId, body: body,
                                         limits: sendLimits, security: &security)
        pending.remove(requestId)
        return chunks
    }

    /// Ends the connection from this side with an Error message (e.g. on shutdown).
    public mutating func fail(_ error: any Error) -> [Output] {
        guard state != .closed else { return [] }
        state = .closed
        let message: ErrorMessage
        switch error {
        case let e as TransportError: message = ErrorMessage(error: e.status, reason: e.reason)
        case let e as OPCUADecodeError: message = ErrorMessage(error: e.statusCode, reason: e.description)
        default: message = ErrorMessage(error: .badTcpInternalError, reason: "\(error)")
        }
        let truncated = ErrorMessage(error: message.error, reason: message.reason.map { String(decoding: Array($0.utf8.prefix(maximumTransportStringLength - 4)), as: UTF8.self) })
        guard let bytes = try? TransportMessage.error(truncated).encoded() else { return [.close] }
        return [.send(bytes), .close]
    }
}
