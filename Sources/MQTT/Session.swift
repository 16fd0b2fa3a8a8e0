import NIOCore

/// Connection parameters the session state machine needs.
public struct MQTTSessionConfiguration: Sendable {
    public var protocolVersion: MQTTProtocolVersion
    /// Client identifier; empty asks the server to assign one (reused on reconnect).
    public var clientID: String
    /// Clean Start for the first connection. MQTT 5 reconnects use Clean Start = 0 so the session
    /// resumes (if `sessionExpiryInterval` > 0); MQTT 3.1.1 uses this Clean Session value every time.
    public var cleanStart: Bool
    /// Seconds the server keeps the session after the connection closes (MQTT 5).
    public var sessionExpiryInterval: UInt32
    /// Keep-alive in seconds; 0 disables.
    public var keepAlive: UInt16
    /// How long to wait for PINGRESP (and for CONNACK) before declaring the connection dead.
    public var responseTimeout: TimeAmount
    public var username: String?
    public var password: [UInt8]?
    public var will: WillMessage?
    /// Inbound flow control: most unacknowledged QoS 1/2 PUBLISHes the server may send us (MQTT 5).
    public var receiveMaximum: UInt16
    /// Largest packet we accept (advertised to the server, enforced by the decoder before the
    /// body is buffered); `nil` accepts the protocol maximum of 256 MB.
    public var maximumPacketSize: UInt32?
    /// Number of inbound topic aliases we accept (0 = none).
    public var topicAliasMaximum: UInt16
    /// Further CONNECT properties (user properties, request problem information, …).
    public var connectProperties: MQTTProperties

    public init(protocolVersion: MQTTProtocolVersion = .v5, clientID: String, cleanStart: Bool = true,
                sessionExpiryInterval: UInt32 = 0, keepAlive: UInt16 = 60, responseTimeout: TimeAmount = .seconds(10),
                username: String? = nil, password: [UInt8]? = nil, will: WillMessage? = nil,
                receiveMaximum: UInt16 = 64, maximumPacketSize: UInt32? = 8 * 1024 * 1024, topicAliasMaximum: UInt16 = 0,
                connectProperties: MQTTProperties = .init()) {
        self.protocolVersion = protocolVersion
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.sessionExpiryInterval = sessionExpiryInterval
        self.keepAlive = keepAlive
        self.responseTimeout = responseTimeout
        self.username = username
        self.password = password
        self.will = will
        self.receiveMaximum = receiveMaximum
        self.maximumPacketSize = maximumPacketSize
        self.topicAliasMaximum = topicAliasMaximum
        self.connectProperties = connectProperties
    }
}

/// Identifies an application operation (publish, subscribe, unsubscribe) across reconnects.
public struct OperationID: Hashable, Sendable, Comparable {
    public var rawValue: UInt64
    public static func < (a: OperationID, b: OperationID) -> Bool { a.rawValue < b.rawValue }
}

/// Identifies one inbound QoS 1/2 delivery. Handing it back to
/// ``MQTTSession/acknowledge(_:now:)`` sends the PUBACK/PUBREC. Tokens from a previous
/// connection are stale: the server redelivers those messages after reconnecting.
public struct AckToken: Hashable, Sendable {
    public var connection: UInt64
    public var serial: UInt64
    public var packetID: UInt16
    public var qos: QoS
}

/// An inbound application message as the state machine surfaces it.
public struct InboundPublish: Hashable, Sendable {
    public var topic: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    /// DUP flag: the server may have delivered this before.
    public var isDuplicate: Bool
    public var properties: MQTTProperties
    /// `nil` for QoS 0.
    public var ackToken: AckToken?
}

/// What the server told us in a successful CONNACK, with defaults applied.
public struct ConnectionInfo: Hashable, Sendable {
    public var sessionPresent: Bool
    /// This reconnect asked to resume the session (Clean Start = 0, with a session that outlives
    /// the connection) and the server had none: whatever it held for us is gone.
    public var sessionLost: Bool
    public var clientID: String
    public var keepAlive: UInt16
    public var receiveMaximum: UInt16
    public var maximumPacketSize: UInt32?
    public var topicAliasMaximum: UInt16
    public var maximumQoS: QoS
    public var retainAvailable: Bool
    public var properties: MQTTProperties
}

/// The outcome of a publish: the PUBACK/PUBCOMP reason (MQTT 5) or `.success`.
public struct PublishResult: Hashable, Sendable {
    public var reasonCode: ReasonCode
    public var properties: MQTTProperties
}

/// Side effects the I/O shell performs for the state machine, in order.
public enum SessionAction: Hashable, Sendable {
    case send(MQTTPacket)
    /// Hand an inbound message to the application.
    case deliver(InboundPublish)
    /// CONNACK accepted.
    case connected(ConnectionInfo)
    case publishCompleted(OperationID, Result<PublishResult, MQTTError>)
    case subscribeCompleted(OperationID, Result<SubAckPacket, MQTTError>)
    case unsubscribeCompleted(OperationID, Result<UnsubAckPacket, MQTTError>)
    /// Close the network connection; `nil` for a requested, clean close.
    case close(MQTTError?)
}

/// The MQTT client session as a value: no I/O, no clock. Every input returns the actions to
/// perform; time is passed in.
///
/// State survives connections: outbound QoS 1/2 messages not yet acknowledged, inbound QoS 2
/// packet identifiers awaiting PUBREL, and the subscriptions (re-sent when the server has lost
/// the session).
public struct MQTTSession: Sendable {
    public enum State: Hashable, Sendable { case closed, connecting, connected, disconnecting }

    enum OutboundPhase: Hashable, Sendable { case awaitingPubAck, awaitingPubRec, awaitingPubComp }

    struct OutboundEntry: Sendable {
        var op: OperationID
        var packetID: UInt16
        var publish: PublishPacket
        var phase: OutboundPhase
    }

    enum RequestKind: Sendable {
        case subscribe([Subscription], MQTTProperties)
        case unsubscribe([String], MQTTProperties)
    }

    struct Request: Sendable {
        /// `nil` for the session's own re-subscribe.
        var op: OperationID?
        var kind: RequestKind
        var order: UInt64
    }

    struct InboundEntry: Sendable {
        var packetID: UInt16
        var qos: QoS
        var serial: UInt64
        var acknowledged: Bool
    }

    public private(set) var configuration: MQTTSessionConfiguration
    public private(set) var state: State = .closed
    /// Connection parameters of the current/last successful CONNACK.
    public private(set) var connectionInfo: ConnectionInfo?

    private var nextPacketID: UInt16 = 1
    private var usedPacketIDs = Set<UInt16>()
    private var nextOperation: UInt64 = 1
    private var nextSerial: UInt64 = 1
    private var connectionNumber: UInt64 = 0
    private var hasConnected = false
    private var assignedClientID: String?

    private var outbound: [OutboundEntry] = []
    private var pendingPublishes = CircularBuffer<(OperationID, PublishPacket)>()
    private var queuedRequests: [Request] = []
    private var sentRequests: [UInt16: Request] = [:]
    private var subscriptions: [Subscription] = []

    /// Deliveries the application has not acknowledged yet, oldest first. Their serials are
    /// consecutive (each delivery takes the next; only the oldest leave), so a token finds its
    /// entry by arithmetic, not by a search through up to `receiveMaximum` entries.
    private var inboundPending = CircularBuffer<InboundEntry>()
    /// The packet ids in `inboundPending`, for the duplicate check on every PUBLISH.
    private var inboundPendingIDs = Set<UInt16>()
    private var inboundQoS2Received = Set<UInt16>()
    private var topicAliases: [UInt16: String] = [:]

    private var serverReceiveMaximum = 65535
    private var serverMaximumPacketSize: Int?
    private var serverMaximumQoS = QoS.exactlyOnce
    private var serverRetainAvailable = true
    private var effectiveKeepAlive: UInt16 = 0
    private var lastSent: NIODeadline = .uptimeNanoseconds(0)
    private var pingSentAt: NIODeadline?
    private var connectStartedAt: NIODeadline = .uptimeNanoseconds(0)
    /// The CONNECT of the current attempt asked to resume a session the server should have kept.
    private var resumeRequested = false
    /// The current connection resumed a session: the server may resend its backlog beyond our
    /// receive maximum (mosquitto does), which is tolerated rather than answered with 0x93.
    private var resumedSession = false
    /// The shell stopped reading the socket (back-pressure): a PINGRESP cannot arrive meanwhile.
    private var readingPaused = false

    public init(configuration: MQTTSessionConfiguration) {
        self.configuration = configuration
    }

    // MARK: Introspection (for the shell and tests)

    /// QoS 1/2 publishes sent and not yet completed.
    public var inflightOutboundCount: Int { outbound.count }
    /// Publishes waiting for a connection or for receive-maximum quota.
    public var queuedPublishCount: Int { pendingPublishes.count }
    /// Inbound QoS 1/2 deliveries the application has not acknowledged yet.
    public var unacknowledgedInboundCount: Int { inboundPending.count }
    /// Inbound QoS 2 packet identifiers for which PUBREC was sent and PUBREL is awaited.
    public var inboundQoS2AwaitingRelease: Set<UInt16> { inboundQoS2Received }
    /// Subscriptions the server acknowledged (re-sent if the server loses the session).
    public var activeSubscriptions: [Subscription] { subscriptions }
    public var packetIdentifiersInUse: Set<UInt16> { usedPacketIDs }

    /// The next instant at which ``tick(now:)`` must be called (keep-alive, response timeouts).
    public var nextDeadline: NIODeadline? {
        switch state {
        case .connecting:
            return connectStartedAt + configuration.responseTimeout
        case .connected:
            guard effectiveKeepAlive > 0 else { return nil }
            if let ping = pingSentAt, !readingPaused { return ping + configuration.responseTimeout }
            return lastSent + .seconds(Int64(effectiveKeepAlive))
        case .closed, .disconnecting:
            return nil
        }
    }

    // MARK: Inputs

    /// Starts a connection attempt: returns the CONNECT to send on the freshly opened transport.
    /// MQTT 5 reconnects use Clean Start = 0 (and the server-assigned client identifier, if any)
    /// so that the session resumes.
    public mutating func connect(now: NIODeadline) -> [SessionAction] {
        if state != .closed {
            // The shell should have reported the previous transport as closed; treat it so.
            resetConnectionScopedState()
        }
        connectionNumber += 1
        state = .connecting
        connectStartedAt = now
        let v5 = configuration.protocolVersion == .v5
        var props = configuration.connectProperties
        if v5 {
            if configuration.sessionExpiryInterval > 0 { props.sessionExpiryInterval = configuration.sessionExpiryInterval }
            if configuration.receiveMaximum != 65535 { props.receiveMaximum = configuration.receiveMaximum }
            props.maximumPacketSize = configuration.maximumPacketSize
            if configuration.topicAliasMaximum > 0 { props.topicAliasMaximum = configuration.topicAliasMaximum }
        }
        let cleanStart = (v5 && hasConnected) ? false : configuration.cleanStart
        resumeRequested = hasConnected && !cleanStart && (!v5 || configuration.sessionExpiryInterval > 0)
        let clientID = configuration.clientID.isEmpty ? (assignedClientID ?? "") : configuration.clientID
        let packet = ConnectPacket(protocolVersion: configuration.protocolVersion, clientID: clientID, cleanStart: cleanStart,
                                   keepAlive: configuration.keepAlive, username: configuration.username,
                                   password: configuration.password, will: configuration.will, properties: props)
        return send(.connect(packet), now: now)
    }

    /// A packet arrived from the server.
    public mutating func received(_ packet: MQTTPacket, now: NIODeadline) -> [SessionAction] {
        switch state {
        case .closed, .disconnecting:
            return []
        case .connecting:
            guard case .connack(let ack) = packet else {
                return protocolViolation(.protocolError, "expected CONNACK, got packet type \(packet.typeCode)", now: now)
            }
            return handleConnAck(ack, now: now)
        case .connected:
            break
        }
        switch packet {
        case .publish(let p): return handleInboundPublish(p, now: now)
        case .puback(let ack):
            guard let i = outbound.firstIndex(where: { $0.packetID == ack.packetID && $0.phase == .awaitingPubAck }) else { return [] }
            let entry = outbound.remove(at: i)
            usedPacketIDs.remove(entry.packetID)
            var actions = [SessionAction.publishCompleted(entry.op, result(ack))]
            actions += flush(now: now)
            return actions
        case .pubrec(let ack):
            if let i = outbound.firstIndex(where: { $0.packetID == ack.packetID && $0.phase == .awaitingPubRec }) {
                if ack.reasonCode.isFailure {
                    let entry = outbound.remove(at: i)
                    usedPacketIDs.remove(entry.packetID)
                    return [.publishCompleted(entry.op, result(ack))] + flush(now: now)
                }
                outbound[i].phase = .awaitingPubComp
                return send(.pubrel(PubAckPacket(packetID: ack.packetID)), now: now)
            }
            if outbound.contains(where: { $0.packetID == ack.packetID && $0.phase == .awaitingPubComp }) {
                return send(.pubrel(PubAckPacket(packetID: ack.packetID)), now: now)
            }
            return send(.pubrel(PubAckPacket(packetID: ack.packetID, reasonCode: v5 ? .packetIdentifierNotFound : .success)), now: now)
        case .pubcomp(let ack):
            guard let i = outbound.firstIndex(where: { $0.packetID == ack.packetID && $0.phase == .awaitingPubComp }) else { return [] }
            let entry = outbound.remove(at: i)
            usedPacketIDs.remove(entry.packetID)
            return [.publishCompleted(entry.op, result(ack))] + flush(now: now)
        case .pubrel(let rel):
            let found = inboundQoS2Received.remove(rel.packetID) != nil
            let code: ReasonCode = (found || !v5) ? .success : .packetIdentifierNotFound
            return send(.pubcomp(PubAckPacket(packetID: rel.packetID, reasonCode: code)), now: now)
        case .suback(let ack):
            guard let req = sentRequests.removeValue(forKey: ack.packetID), case .subscribe(let subs, _) = req.kind else { return [] }
            usedPacketIDs.remove(ack.packetID)
            for (i, sub) in subs.enumerated() where i < ack.reasonCodes.count && !ack.reasonCodes[i].isFailure {
                subscriptions.removeAll { $0.topicFilter == sub.topicFilter }
                subscriptions.append(sub)
            }
            var actions: [SessionAction] = []
            if let op = req.op { actions.append(.subscribeCompleted(op, .success(ack))) }
            return actions + flush(now: now)
        case .unsuback(let ack):
            guard let req = sentRequests.removeValue(forKey: ack.packetID), case .unsubscribe(let filters, _) = req.kind else { return [] }
            usedPacketIDs.remove(ack.packetID)
            subscriptions.removeAll { filters.contains($0.topicFilter) }
            var actions: [SessionAction] = []
            if let op = req.op { actions.append(.unsubscribeCompleted(op, .success(ack))) }
            return actions + flush(now: now)
        case .pingresp:
            pingSentAt = nil
            return []
        case .disconnect(let d):
            state = .closed
            resetConnectionScopedState()
            return [.close(.serverDisconnected(d.reasonCode, reasonString: d.properties.reasonString))]
        case .connect, .connack, .subscribe, .unsubscribe, .pingreq, .auth:
            return protocolViolation(.protocolError, "unexpected packet type \(packet.typeCode) from server", now: now)
        }
    }

    /// Whether acknowledging `token` now would take effect (it belongs to the current connection
    /// and has not been acknowledged yet).
    public func canAcknowledge(_ token: AckToken) -> Bool {
        state == .connected && token.connection == connectionNumber &&
            pendingIndex(token.serial).map { !inboundPending[$0].acknowledged } ?? false
    }

    private func pendingIndex(_ serial: UInt64) -> CircularBuffer<InboundEntry>.Index? {
        guard let first = inboundPending.first?.serial, serial >= first, serial - first < UInt64(inboundPending.count) else { return nil }
        return inboundPending.index(inboundPending.startIndex, offsetBy: Int(serial - first))
    }

    /// The application acknowledges an inbound QoS 1/2 message (e.g. after committing it durably).
    /// PUBACK/PUBREC go out in the order the PUBLISHes arrived. Stale or repeated tokens are ignored.
    public mutating func acknowledge(_ token: AckToken, now: NIODeadline) -> [SessionAction] {
        guard state == .connected, token.connection == connectionNumber,
              let i = pendingIndex(token.serial) else { return [] }
        inboundPending[i].acknowledged = true
        var actions: [SessionAction] = []
        while let first = inboundPending.first, first.acknowledged {
            inboundPending.removeFirst()
            inboundPendingIDs.remove(first.packetID)
            if first.qos == .atLeastOnce {
                actions += send(.puback(PubAckPacket(packetID: first.packetID)), now: now)
            } else {
                inboundQoS2Received.insert(first.packetID)
                actions += send(.pubrec(PubAckPacket(packetID: first.packetID)), now: now)
            }
        }
        return actions
    }

    /// Queues an application message. It is sent when connected and (for QoS 1/2) when the
    /// server's receive maximum allows; completion is reported by `.publishCompleted`.
    public mutating func publish(_ message: PublishPacket, now: NIODeadline) throws -> (OperationID, [SessionAction]) {
        guard !message.topic.isEmpty, MQTTTopic.isValidTopicName(message.topic), Self.isEncodable(message.topic) else {
            throw MQTTError.invalidRequest(.topicNameInvalid, "invalid topic name '\(message.topic)'")
        }
        var p = message
        p.dup = false
        p.packetID = nil
        p.properties.topicAlias = nil
        p.properties.subscriptionIdentifiers = []
        let op = makeOperation()
        pendingPublishes.append((op, p))
        return (op, flush(now: now))
    }

    public mutating func subscribe(_ subscriptions: [Subscription], properties: MQTTProperties = .init(), now: NIODeadline) throws -> (OperationID, [SessionAction]) {
        guard !subscriptions.isEmpty else { throw MQTTError.invalidRequest(.protocolError, "no topic filters") }
        for s in subscriptions where !MQTTTopic.isValidFilter(s.topicFilter) || !Self.isEncodable(s.topicFilter) {
            throw MQTTError.invalidRequest(.topicFilterInvalid, "invalid topic filter '\(s.topicFilter)'")
        }
        for s in subscriptions where s.noLocal && MQTTTopic.isSharedSubscription(s.topicFilter) {
            throw MQTTError.invalidRequest(.protocolError, "no local cannot be set on a shared subscription")
        }
        let op = makeOperation()
        queuedRequests.append(Request(op: op, kind: .subscribe(subscriptions, properties), order: op.rawValue))
        return (op, flush(now: now))
    }

    public mutating func unsubscribe(_ topicFilters: [String], properties: MQTTProperties = .init(), now: NIODeadline) throws -> (OperationID, [SessionAction]) {
        guard !topicFilters.isEmpty else { throw MQTTError.invalidRequest(.protocolError, "no topic filters") }
        for f in topicFilters where !MQTTTopic.isValidFilter(f) || !Self.isEncodable(f) {
            throw MQTTError.invalidRequest(.topicFilterInvalid, "invalid topic filter '\(f)'")
        }
        let op = makeOperation()
        queuedRequests.append(Request(op: op, kind: .unsubscribe(topicFilters, properties), order: op.rawValue))
        return (op, flush(now: now))
    }

    /// Keep-alive and response timeouts. Call at (or after) ``nextDeadline``.
    public mutating func tick(now: NIODeadline) -> [SessionAction] {
        switch state {
        case .connecting:
            if now >= connectStartedAt + configuration.responseTimeout {
                state = .closed
                resetConnectionScopedState()
                return [.close(.timeout)]
            }
            return []
        case .connected:
            guard effectiveKeepAlive > 0 else { return [] }
            if let ping = pingSentAt, !readingPaused {
                if now >= ping + configuration.responseTimeout {
                    state = .closed
                    resetConnectionScopedState()
                    return [.close(.keepAliveTimeout)]
                }
                return []
            }
            if now >= lastSent + .seconds(Int64(effectiveKeepAlive)) {
                pingSentAt = now
                return send(.pingreq, now: now)
            }
            return []
        case .closed, .disconnecting:
            return []
        }
    }

    /// The shell stopped (or resumed) reading the socket because the application is behind.
    /// While paused a missing PINGRESP is not a dead connection (it cannot be read); PINGREQ keeps
    /// going out so the server does not time us out. On resume an outstanding ping waits afresh.
    public mutating func setReadingPaused(_ paused: Bool, now: NIODeadline) {
        if readingPaused && !paused && pingSentAt != nil { pingSentAt = now }
        readingPaused = paused
    }

    /// Clean, final disconnect requested by the application: sends DISCONNECT and fails every
    /// pending operation with ``MQTTError/clientClosed``.
    public mutating func disconnect(reason: ReasonCode = .normalDisconnection, properties: MQTTProperties = .init(), now: NIODeadline) -> [SessionAction] {
        var actions: [SessionAction] = []
        if state == .connected {
            actions += send(.disconnect(DisconnectPacket(reasonCode: reason, properties: properties)), now: now)
        }
        state = (state == .closed) ? .closed : .disconnecting
        actions += failAllOperations(.clientClosed)
        resetConnectionScopedState()
        actions.append(.close(nil))
        return actions
    }

    /// The transport closed (for any reason). Session state is kept for the next connection.
    public mutating func connectionClosed() -> [SessionAction] {
        state = .closed
        resetConnectionScopedState()
        return []
    }

    // MARK: Internals

    /// A UTF-8 Encoded String must fit a two-byte length and contain no U+0000.
    static func isEncodable(_ s: String) -> Bool {
        s.utf8.count <= 0xFFFF && !s.utf8.contains(0)
    }

    private var v5: Bool { configuration.protocolVersion == .v5 }

    private mutating func makeOperation() -> OperationID {
        defer { nextOperation += 1 }
        return OperationID(rawValue: nextOperation)
    }

    private mutating func send(_ packet: MQTTPacket, now: NIODeadline) -> [SessionAction] {
        lastSent = now
        return [.send(packet)]
    }

    private func result(_ ack: PubAckPacket) -> Result<PublishResult, MQTTError> {
        if ack.reasonCode.isFailure {
            return .failure(.operationFailed(ack.reasonCode, reasonString: ack.properties.reasonString))
        }
        return .success(PublishResult(reasonCode: ack.reasonCode, properties: ack.properties))
    }

    private mutating func allocatePacketID() -> UInt16? {
        guard usedPacketIDs.count < 65535 else { return nil }
        while true {
            let candidate = nextPacketID
            nextPacketID = nextPacketID == 65535 ? 1 : nextPacketID + 1
            if !usedPacketIDs.contains(candidate) {
                usedPacketIDs.insert(candidate)
                return candidate
            }
        }
    }

    /// Drops what only lives as long as one connection: unacknowledged inbound deliveries
    /// (their tokens go stale; the server redelivers), topic aliases, keep-alive state;
    /// sent-but-unanswered SUBSCRIBE/UNSUBSCRIBE requests go back to the queue.
    private mutating func resetConnectionScopedState() {
        inboundPending.removeAll()
        inboundPendingIDs.removeAll()
        resumedSession = false
        readingPaused = false
        topicAliases.removeAll()
        pingSentAt = nil
        let unanswered = sentRequests.sorted { $0.value.order < $1.value.order }
        for (id, _) in unanswered { usedPacketIDs.remove(id) }
        queuedRequests = unanswered.map(\.value) + queuedRequests
        sentRequests.removeAll()
    }

    private mutating func failAllOperations(_ error: MQTTError) -> [SessionAction] {
        var actions: [SessionAction] = []
        for e in outbound { actions.append(.publishCompleted(e.op, .failure(error))) }
        outbound.removeAll()
        while let (op, _) = pendingPublishes.popFirst() { actions.append(.publishCompleted(op, .failure(error))) }
        let requests = (sentRequests.values.sorted { $0.order < $1.order }) + queuedRequests
        for r in requests {
            guard let op = r.op else { continue }
            switch r.kind {
            case .subscribe: actions.append(.subscribeCompleted(op, .failure(error)))
            case .unsubscribe: actions.append(.unsubscribeCompleted(op, .failure(error)))
            }
        }
        sentRequests.removeAll()
        queuedRequests.removeAll()
        usedPacketIDs.removeAll()
        return actions
    }

    private mutating func protocolViolation(_ reason: ReasonCode, _ message: String, now: NIODeadline) -> [SessionAction] {
        var actions: [SessionAction] = []
        if v5 && state == .connected {
            var props = MQTTProperties()
            props.reasonString = message
            actions += send(.disconnect(DisconnectPacket(reasonCode: reason, properties: props)), now: now)
        }
        state = .closed
        resetConnectionScopedState()
        actions.append(.close(.protocolViolation(reason, message)))
        return actions
    }

    private mutating func handleConnAck(_ ack: ConnAckPacket, now: NIODeadline) -> [SessionAction] {
        if ack.reasonCode.isFailure || (!v5 && ack.reasonCode != .success) {
            state = .closed
            resetConnectionScopedState()
            return [.close(.connectionRefused(ack.reasonCode, reasonString: ack.properties.reasonString))]
        }
        state = .connected
        hasConnected = true
        let p = ack.properties
        if let assigned = p.assignedClientIdentifier { assignedClientID = assigned }
        serverReceiveMaximum = Int(p.receiveMaximum ?? 65535)
        serverMaximumPacketSize = p.maximumPacketSize.map { Int($0) }
        serverMaximumQoS = p.maximumQoS.flatMap { QoS(rawValue: $0) } ?? .exactlyOnce
        serverRetainAvailable = (p.retainAvailable ?? 1) == 1
        effectiveKeepAlive = p.serverKeepAlive ?? configuration.keepAlive
        pingSentAt = nil
        resumedSession = ack.sessionPresent
        let info = ConnectionInfo(
            sessionPresent: ack.sessionPresent, sessionLost: resumeRequested && !ack.sessionPresent,
            clientID: configuration.clientID.isEmpty ? (assignedClientID ?? "") : configuration.clientID,
            keepAlive: effectiveKeepAlive, receiveMaximum: UInt16(serverReceiveMaximum),
            maximumPacketSize: p.maximumPacketSize, topicAliasMaximum: p.topicAliasMaximum ?? 0,
            maximumQoS: serverMaximumQoS, retainAvailable: serverRetainAvailable, properties: p)
        connectionInfo = info
        var actions: [SessionAction] = [.connected(info)]

        if ack.sessionPresent {
            // [MQTT-4.4.0-1] re-send unacknowledged PUBLISH (DUP=1) and PUBREL, in original order.
            for e in outbound {
                switch e.phase {
                case .awaitingPubAck, .awaitingPubRec:
                    var p = e.publish
                    p.dup = true
                    actions += send(.publish(p), now: now)
                case .awaitingPubComp:
                    actions += send(.pubrel(PubAckPacket(packetID: e.packetID)), now: now)
                }
            }
        } else {
            // The server has no session: discard ours [MQTT-4.1.0-4]. Messages the server already
            // took ownership of (PUBREC received) are complete; the others are sent again as new
            // messages so nothing the application handed us is lost.
            inboundQoS2Received.removeAll()
            var requeue: [(OperationID, PublishPacket)] = []
            for e in outbound {
                usedPacketIDs.remove(e.packetID)
                if e.phase == .awaitingPubComp {
                    actions.append(.publishCompleted(e.op, .success(PublishResult(reasonCode: .success, properties: .init()))))
                } else {
                    var p = e.publish
                    p.dup = false
                    p.packetID = nil
                    requeue.append((e.op, p))
                }
            }
            outbound.removeAll()
            for item in requeue.reversed() { pendingPublishes.prepend(item) }
            if !subscriptions.isEmpty {
                let resubscribe = Request(op: nil, kind: .subscribe(subscriptions, .init()), order: 0)
                queuedRequests.insert(resubscribe, at: 0)
            }
        }
        actions += flush(now: now)
        return actions
    }

    private mutating func handleInboundPublish(_ packet: PublishPacket, now: NIODeadline) -> [SessionAction] {
        var topic = packet.topic
        if let alias = packet.properties.topicAlias {
            guard v5, alias >= 1, alias <= configuration.topicAliasMaximum else {
                return protocolViolation(.topicAliasInvalid, "topic alias \(alias) exceeds maximum \(configuration.topicAliasMaximum)", now: now)
            }
            if topic.isEmpty {
                guard let known = topicAliases[alias] else {
                    return protocolViolation(.protocolError, "unknown topic alias \(alias)", now: now)
                }
                topic = known
            } else {
                topicAliases[alias] = topic
            }
        }
        guard !topic.isEmpty else { return protocolViolation(.protocolError, "empty topic name", now: now) }

        func message(_ token: AckToken?) -> InboundPublish {
            InboundPublish(topic: topic, payload: packet.payload, qos: packet.qos, retain: packet.retain,
                           isDuplicate: packet.dup, properties: packet.properties, ackToken: token)
        }
        guard let id = packet.packetID, packet.qos != .atMostOnce else {
            return [.deliver(message(nil))]
        }
        if packet.qos == .exactlyOnce && inboundQoS2Received.contains(id) {
            // Duplicate of a message already acknowledged with PUBREC: do not deliver again.
            return send(.pubrec(PubAckPacket(packetID: id)), now: now)
        }
        if inboundPendingIDs.contains(id) {
            // Still with the application; its acknowledgement will answer this copy too.
            return []
        }
        // MQTT 3.1.1 has no receive maximum (the server never heard ours), a resumed session's
        // backlog may exceed it, and so may deliveries to a shared subscription (mosquitto 2.0
        // does not hold those to the subscriber's quota: answering 0x93 would only reconnect and
        // have them all sent again); memory stays bounded by the shell's back-pressure either way.
        if v5 && !resumedSession && !subscriptions.contains(where: { MQTTTopic.isSharedSubscription($0.topicFilter) })
            && inboundPending.count + inboundQoS2Received.count >= Int(configuration.receiveMaximum) {
            return protocolViolation(.receiveMaximumExceeded, "server exceeded receive maximum \(configuration.receiveMaximum)", now: now)
        }
        let serial = nextSerial
        nextSerial += 1
        inboundPending.append(InboundEntry(packetID: id, qos: packet.qos, serial: serial, acknowledged: false))
        inboundPendingIDs.insert(id)
        let token = AckToken(connection: connectionNumber, serial: serial, packetID: id, qos: packet.qos)
        return [.deliver(message(token))]
    }

    /// Sends queued SUBSCRIBE/UNSUBSCRIBE requests and as many queued publishes as the server's
    /// receive maximum allows.
    private mutating func flush(now: NIODeadline) -> [SessionAction] {
        guard state == .connected else { return [] }
        var actions: [SessionAction] = []
        while !queuedRequests.isEmpty {
            guard let id = allocatePacketID() else { break }
            let req = queuedRequests.removeFirst()
            sentRequests[id] = req
            switch req.kind {
            case let .subscribe(subs, props):
                actions += send(.subscribe(SubscribePacket(packetID: id, subscriptions: subs, properties: props)), now: now)
            case let .unsubscribe(filters, props):
                actions += send(.unsubscribe(UnsubscribePacket(packetID: id, topicFilters: filters, properties: props)), now: now)
            }
        }
        while let (op, message) = pendingPublishes.first {
            if message.qos != .atMostOnce && outbound.count >= serverReceiveMaximum { break }
            if message.qos > serverMaximumQoS {
                pendingPublishes.removeFirst()
                actions.append(.publishCompleted(op, .failure(.invalidRequest(.qosNotSupported, "server maximum QoS is \(serverMaximumQoS.rawValue)"))))
                continue
            }
            if message.retain && !serverRetainAvailable {
                pendingPublishes.removeFirst()
                actions.append(.publishCompleted(op, .failure(.invalidRequest(.retainNotSupported, "server does not support retained messages"))))
                continue
            }
            var p = message
            if p.qos != .atMostOnce {
                guard let id = allocatePacketID() else { break }
                p.packetID = id
            }
            let limit = serverMaximumPacketSize ?? (mqttMaxVariableByteInteger + 5)
            do {
                // Encode once to check size and string rules, unless the packet is clearly small.
                let roughSize = p.payload.readableBytes + p.topic.utf8.count + 16
                if roughSize + 1024 > limit || !p.properties.isEmpty || p.topic.utf8.count > 0xFFFF {
                    var scratch = ByteBuffer()
                    try MQTTPacketCodec.encode(.publish(p), version: configuration.protocolVersion, into: &scratch, maximumPacketSize: limit)
                } else if p.topic.utf8.contains(0) {
                    throw MQTTError.invalidRequest(.malformedPacket, "topic name contains U+0000")
                }
            } catch {
                pendingPublishes.removeFirst()
                if let id = p.packetID { usedPacketIDs.remove(id) }
                let e = (error as? MQTTError) ?? .invalidRequest(.malformedPacket, "\(error)")
                actions.append(.publishCompleted(op, .failure(e)))
                continue
            }
            pendingPublishes.removeFirst()
            actions += send(.publish(p), now: now)
            if let id = p.packetID {
                outbound.append(OutboundEntry(op: op, packetID: id, publish: p,
                                              phase: p.qos == .atLeastOnce ? .awaitingPubAck : .awaitingPubRec))
            } else {
                actions.append(.publishCompleted(op, .success(PublishResult(reasonCode: .success, properties: .init()))))
            }
        }
        return actions
    }
}
