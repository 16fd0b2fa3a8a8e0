// MQTT 5.0 / 3.1.1 client on SwiftNIO.
//
// Design — three layers, each usable and tested on its own:
//
// 1. Codec (`MQTTPacketCodec`, `MQTTPacket`, `MQTTProperties`): pure encode/decode of every
//    control packet on `ByteBuffer`, for protocol levels 4 and 5. Malformed input throws an
//    `MQTTDecodeError` carrying the MQTT 5 reason code (0x81, 0x82, 0x95, …); it never traps.
//    `MQTTPacketDecoder`/`MQTTPacketEncoder` adapt it to a NIO pipeline.
// 2. Session state machine (`MQTTSession`): a value type with no I/O and no clock. Inputs
//    (connect, a received packet, publish/subscribe requests, an application acknowledgement,
//    a tick with the current time, transport closed) return `SessionAction`s (send a packet,
//    deliver a message, complete an operation, close). It owns packet identifiers, QoS 1/2
//    flows in both directions, receive-maximum flow control, topic aliases, keep-alive, and
//    what survives a reconnect (unacknowledged PUBLISH/PUBREL, inbound QoS 2 state,
//    subscriptions).
// 3. I/O shell (`MQTTClient`, this file): owns one NIO event loop; all mutable state lives on
//    it. It opens TCP/TLS connections, feeds the state machine, performs its actions, runs the
//    keep-alive timer at the machine's `nextDeadline`, and reconnects with exponential backoff
//    and jitter. Async/await methods hop onto the loop and await promises that the state
//    machine's completion actions fulfil.
//
// Inbound QoS 1/2 messages are acknowledged by the *application*: `MQTTMessage.acknowledge()`
// sends PUBACK/PUBREC (in arrival order). A consumer that commits durably before acknowledging
// gets at-least-once delivery until the commit and no redelivery after it (QoS 2: duplicates
// of an acknowledged message are suppressed until PUBREL, also across reconnects); messages
// never acknowledged are redelivered by the server after a reconnect (persistent session).
// `acknowledge()` returns false when its connection is gone: expect that message again.
//
// Typical use (a persistent session that survives gateway and broker restarts — use Clean
// Start = 0 from the first connection: mosquitto 2.0 does not persist across its own restart
// a session created with Clean Start = 1):
//
//     let client = MQTTClient(configuration: MQTTClientConfiguration(
//         broker: try MQTTBrokerAddress(parsing: "mqtt://127.0.0.1:1883"),
//         session: MQTTSessionConfiguration(clientID: "millwright-line2", cleanStart: false,
//                                           sessionExpiryInterval: 86_400, receiveMaximum: 64)))
//     try await client.connect()
//     try await client.subscribe([Subscription("vision/+/detections", qos: .atLeastOnce)])
//     for await message in client.messages {
//         try store.commit(message.payload)      // durable first …
//         await message.acknowledge()            // … then PUBACK
//     }
//
// Memory is bounded: the decoder refuses a packet above `maximumPacketSize` from its fixed header,
// before the body is buffered; `messages` is a bounded queue (``MQTTInboundLimits``) that stops
// reading the socket while full; `receiveMaximum` bounds unacknowledged QoS 1/2 deliveries.

import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// TLS settings (PEM files).
public struct MQTTTLSConfiguration: Sendable {
    /// CA bundle to trust; `nil` uses the system trust store.
    public var caFile: String?
    /// Client certificate chain and key for mutual TLS.
    public var certificateFile: String?
    public var privateKeyFile: String?
    /// SNI / certificate host name; defaults to the connection host when it is not an IP address.
    public var serverName: String?
    /// `false` disables certificate verification (testing only).
    public var verifyCertificates: Bool

    public init(caFile: String? = nil, certificateFile: String? = nil, privateKeyFile: String? = nil,
                serverName: String? = nil, verifyCertificates: Bool = true) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.serverName = serverName
        self.verifyCertificates = verifyCertificates
    }
}

/// Reconnect backoff: first `quickAttempts` attempts `quickDelay` apart (a broker restart or a
/// dropped NAT entry is usually over at once), then `initialDelay * multiplier^n`, capped at
/// `maximumDelay`, minus up to `jitter` (0…1) of itself at random.
public struct MQTTReconnectPolicy: Sendable {
    public var enabled: Bool
    public var quickAttempts: Int
    public var quickDelay: TimeAmount
    public var initialDelay: TimeAmount
    public var maximumDelay: TimeAmount
    public var multiplier: Double
    public var jitter: Double

    public init(enabled: Bool = true, quickAttempts: Int = 3, quickDelay: TimeAmount = .milliseconds(50),
                initialDelay: TimeAmount = .milliseconds(200), maximumDelay: TimeAmount = .seconds(30),
                multiplier: Double = 2, jitter: Double = 0.5) {
        self.enabled = enabled
        self.quickAttempts = max(0, quickAttempts)
        self.quickDelay = quickDelay
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.jitter = jitter
    }

    public static let disabled = MQTTReconnectPolicy(enabled: false)

    /// The delay before reconnect attempt `attempt` (0-based), for a random `unit` in 0..<1.
    public func delay(attempt: Int, random unit: Double) -> TimeAmount {
        if attempt < quickAttempts { return quickDelay }
        var base = Double(initialDelay.nanoseconds)
        let cap = Double(maximumDelay.nanoseconds)
        var i = 0
        while i < attempt - quickAttempts && base < cap {
            base *= multiplier
            i += 1
        }
        let capped = min(base, cap)
        let jittered = capped * (1 - jitter * min(max(unit, 0), 1))
        return .nanoseconds(Int64(jittered))
    }
}

public struct MQTTClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var tls: MQTTTLSConfiguration?
    public var session: MQTTSessionConfiguration
    public var reconnect: MQTTReconnectPolicy
    public var connectTimeout: TimeAmount
    /// Bound of ``MQTTClient/messages`` before the client stops reading the socket.
    public var inbound: MQTTInboundLimits
    /// When `true`, ``MQTTClient/connect()`` keeps retrying (with the reconnect backoff) while the
    /// broker is unreachable, and fails only on a CONNACK refusal. When `false` (default) the first
    /// failed attempt is thrown.
    public var retryInitialConnect: Bool

    public init(host: String, port: Int = 1883, tls: MQTTTLSConfiguration? = nil, session: MQTTSessionConfiguration,
                reconnect: MQTTReconnectPolicy = .init(), connectTimeout: TimeAmount = .seconds(10),
                inbound: MQTTInboundLimits = .init(), retryInitialConnect: Bool = false) {
        self.host = host
        self.port = port
        self.tls = tls
        self.session = session
        self.reconnect = reconnect
        self.connectTimeout = connectTimeout
        self.inbound = inbound
        self.retryInitialConnect = retryInitialConnect
    }

    /// From a parsed `mqtt://` / `mqtts://` URL; `mqtts` uses `tls` (default: system trust store).
    public init(broker: MQTTBrokerAddress, tls: MQTTTLSConfiguration? = nil, session: MQTTSessionConfiguration,
                reconnect: MQTTReconnectPolicy = .init(), connectTimeout: TimeAmount = .seconds(10),
                inbound: MQTTInboundLimits = .init(), retryInitialConnect: Bool = false) {
        self.init(host: broker.host, port: broker.port, tls: broker.useTLS ? (tls ?? MQTTTLSConfiguration()) : nil,
                  session: session, reconnect: reconnect, connectTimeout: connectTimeout, inbound: inbound,
                  retryInitialConnect: retryInitialConnect)
    }
}

/// Connection lifecycle notifications.
public enum MQTTClientEvent: Sendable, Hashable {
    case connected(ConnectionInfo)
    case connectionLost(MQTTError)
    case reconnecting(attempt: Int, delay: TimeAmount)
}

/// An inbound application message. QoS 1/2 messages must be acknowledged with
/// ``acknowledge()`` once the application is done with them (e.g. durably stored).
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    public var isDuplicate: Bool
    public var properties: MQTTProperties
    let token: AckToken?
    let client: MQTTClient

    public var payloadString: String { String(buffer: payload) }

    /// Sends PUBACK (QoS 1) / PUBREC (QoS 2). No-op for QoS 0, for repeated calls, and for
    /// messages whose connection has since closed (the server redelivers those).
    ///
    /// - Returns: `false` when the acknowledgement could not take effect because the delivery's
    ///   connection is gone (expect a redelivery) or it was already acknowledged; `true` otherwise.
    @discardableResult
    public func acknowledge() async -> Bool {
        guard let token else { return true }
        return await client.acknowledge(token)
    }
}

/// The MQTT client. See the file header for the design.
public final class MQTTClient: @unchecked Sendable {
    // All `var`s below are confined to `eventLoop`.
    public let configuration: MQTTClientConfiguration
    public let eventLoop: EventLoop
    /// Inbound messages (single consumer), bounded by ``MQTTClientConfiguration/inbound``.
    /// Finishes after ``disconnect()`` once the queued messages are taken.
    public var messages: MQTTMessageStream { MQTTMessageStream(client: self) }
    /// The same messages taken in batches of up to `messages` messages and (past the first)
    /// `bytes` of payload: whatever is queued when the consumer asks, waiting only for the first.
    public func messageBatches(messages: Int, bytes: Int) -> MQTTMessageBatches {
        MQTTMessageBatches(client: self, messages: max(1, messages), bytes: max(1, bytes))
    }
    /// Connection lifecycle events (single consumer; the newest 1000 are kept for a slow one).
    /// Finishes after ``disconnect()``.
    public let events: AsyncStream<MQTTClientEvent>

    private let eventContinuation: AsyncStream<MQTTClientEvent>.Continuation
    private var logger: Logger
    private var inbound: InboundQueue<MQTTMessage>
    private var messageWaiter: EventLoopPromise<MQTTMessage?>?
    private var readGate: MQTTReadGate?
    /// The current channel got a CONNACK: its end is a disconnect, not a failed attempt.
    private var channelConnected = false

    private var session: MQTTSession
    private var channel: Channel?
    private var flushScheduled = false
    private var sslContext: NIOSSLContext?
    private var started = false
    private var shutDown = false
    private var everConnected = false
    private var reconnectAttempt = 0
    private var pendingConnect: EventLoopPromise<ConnectionInfo>?
    private var lastCloseError: MQTTError?
    private var lastTransportError: Error?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var reconnectTask: Scheduled<Void>?
    private var publishPromises: [OperationID: EventLoopPromise<PublishResult>] = [:]
    private var subscribePromises: [OperationID: EventLoopPromise<SubAckPacket>] = [:]
    private var unsubscribePromises: [OperationID: EventLoopPromise<UnsubAckPacket>] = [:]

    public init(configuration: MQTTClientConfiguration, eventLoopGroup: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "mqtt")) {
        self.configuration = configuration
        self.eventLoop = eventLoopGroup.next()
        self.session = MQTTSession(configuration: configuration.session)
        self.logger = logger
        self.inbound = InboundQueue(limits: configuration.inbound)
        (events, eventContinuation) = AsyncStream.makeStream(of: MQTTClientEvent.self, bufferingPolicy: .bufferingNewest(1000))
    }

    // MARK: Public API

    /// Connects and waits for CONNACK. Later connection losses reconnect automatically (per
    /// ``MQTTReconnectPolicy``) until ``disconnect()``.
    @discardableResult
    public func connect() async throws -> ConnectionInfo {
        try await eventLoop.flatSubmit { () -> EventLoopFuture<ConnectionInfo> in
            guard !self.shutDown else { return self.eventLoop.makeFailedFuture(MQTTError.clientClosed) }
            guard !self.started else { return self.eventLoop.makeFailedFuture(MQTTError.invalidRequest(.protocolError, "connect() called twice")) }
            do {
                if let tls = self.configuration.tls { self.sslContext = try Self.makeSSLContext(tls) }
            } catch {
                return self.eventLoop.makeFailedFuture(error)
            }
            self.started = true
            let promise = self.eventLoop.makePromise(of: ConnectionInfo.self)
            self.pendingConnect = promise
            self.openConnection()
            return promise.futureResult
        }.get()
    }

    /// Publishes and returns when the flow completes: after writing (QoS 0), PUBACK (QoS 1) or
    /// PUBCOMP (QoS 2). While disconnected the message waits and is sent after reconnecting.
    @discardableResult
    public func publish(topic: String, payload: ByteBuffer, qos: QoS = .atLeastOnce, retain: Bool = false,
                        properties: MQTTProperties = .init()) async throws -> PublishResult {
        let packet = PublishPacket(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        return try await eventLoop.flatSubmit { () -> EventLoopFuture<PublishResult> in
            guard !self.shutDown else { return self.eventLoop.makeFailedFuture(MQTTError.clientClosed) }
            do {
                let (op, actions) = try self.session.publish(packet, now: .now())
                let promise = self.eventLoop.makePromise(of: PublishResult.self)
                self.publishPromises[op] = promise
                self.perform(actions)
                return promise.futureResult
            } catch {
                return self.eventLoop.makeFailedFuture(error)
            }
        }.get()
    }

    @discardableResult
    public func publish(topic: String, payload: String, qos: QoS = .atLeastOnce, retain: Bool = false,
                        properties: MQTTProperties = .init()) async throws -> PublishResult {
        try await publish(topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain, properties: properties)
    }

    /// Subscribes (filters may be `$share/<group>/<filter>`). Returns the SUBACK; per-filter
    /// failures are in its reason codes. Subscriptions are restored after a reconnect when the
    /// server has lost the session.
    @discardableResult
    public func subscribe(_ subscriptions: [Subscription], properties: MQTTProperties = .init()) async throws -> SubAckPacket {
        try await eventLoop.flatSubmit { () -> EventLoopFuture<SubAckPacket> in
            guard !self.shutDown else { return self.eventLoop.makeFailedFuture(MQTTError.clientClosed) }
            do {
                let (op, actions) = try self.session.subscribe(subscriptions, properties: properties, now: .now())
                let promise = self.eventLoop.makePromise(of: SubAckPacket.self)
                self.subscribePromises[op] = promise
                self.perform(actions)
                return promise.futureResult
            } catch {
                return self.eventLoop.makeFailedFuture(error)
            }
        }.get()
    }

    @discardableResult
    public func unsubscribe(_ topicFilters: [String], properties: MQTTProperties = .init()) async throws -> UnsubAckPacket {
        try await eventLoop.flatSubmit { () -> EventLoopFuture<UnsubAckPacket> in
            guard !self.shutDown else { return self.eventLoop.makeFailedFuture(MQTTError.clientClosed) }
            do {
                let (op, actions) = try self.session.unsubscribe(topicFilters, properties: properties, now: .now())
                let promise = self.eventLoop.makePromise(of: UnsubAckPacket.self)
                self.unsubscribePromises[op] = promise
                self.perform(actions)
                return promise.futureResult
            } catch {
                return self.eventLoop.makeFailedFuture(error)
            }
        }.get()
    }

    /// Sends DISCONNECT, closes the connection, fails pending operations with
    /// ``MQTTError/clientClosed`` and finishes ``messages`` and ``events``.
    public func disconnect(reason: ReasonCode = .normalDisconnection) async {
        let closed: EventLoopFuture<Void> = eventLoop.flatSubmit {
            guard !self.shutDown else { return self.eventLoop.makeSucceededVoidFuture() }
            self.shutDown = true
            self.reconnectTask?.cancel()
            self.reconnectTask = nil
            self.timer?.cancel()
            self.timer = nil
            let channel = self.channel
            self.perform(self.session.disconnect(reason: reason, now: .now()))
            self.pendingConnect?.fail(MQTTError.clientClosed)
            self.pendingConnect = nil
            if self.inbound.isEmpty {
                self.messageWaiter?.succeed(nil)
                self.messageWaiter = nil
            }
            self.eventContinuation.finish()
            return channel?.closeFuture ?? self.eventLoop.makeSucceededVoidFuture()
        }
        try? await closed.get()
    }

    /// Current state of the session state machine.
    public var state: MQTTSession.State {
        get async { (try? await eventLoop.submit { self.session.state }.get()) ?? .closed }
    }

    /// Messages waiting in the inbound queue, and whether the socket is not being read (tests).
    var inboundDepth: (messages: Int, bytes: Int, paused: Bool) {
        get async {
            (try? await eventLoop.submit { (self.inbound.count, self.inbound.bytes, self.inbound.paused) }.get()) ?? (0, 0, false)
        }
    }

    // MARK: Internals

    /// The inbound messages queued now, oldest first, at least one and at most `count` and (past
    /// the first) `bytes` of payload; waits for one when none is queued. Empty once the client
    /// is shut down and the queue is empty, or when the waiting task is cancelled.
    func nextMessages(upTo count: Int, bytes: Int) async -> [MQTTMessage] {
        let taken: EventLoopFuture<[MQTTMessage]> = eventLoop.flatSubmit {
            var batch: [MQTTMessage] = []
            var size = 0
            var resume = false
            while batch.count < count, size < bytes, let next = self.inbound.pop() {
                batch.append(next.element)
                size += next.element.payload.readableBytes
                resume = resume || next.resume
            }
            if resume { self.setReading(paused: false) }
            if !batch.isEmpty || self.shutDown { return self.eventLoop.makeSucceededFuture(batch) }
            // Single consumer: a previous waiter can only be a cancelled one.
            self.messageWaiter?.succeed(nil)
            let promise = self.eventLoop.makePromise(of: MQTTMessage?.self)
            self.messageWaiter = promise
            return promise.futureResult.map { $0.map { [$0] } ?? [] }
        }
        return await withTaskCancellationHandler {
            do { return try await taken.get() } catch { return [] }
        } onCancel: {
            self.eventLoop.execute {
                self.messageWaiter?.succeed(nil)
                self.messageWaiter = nil
            }
        }
    }

    private func enqueue(_ message: MQTTMessage) {
        if let waiter = messageWaiter {
            messageWaiter = nil
            waiter.succeed(message)
            return
        }
        if inbound.push(message, bytes: message.payload.readableBytes + message.topic.utf8.count) {
            logger.debug("MQTT inbound queue full: pausing reads", metadata: ["messages": "\(inbound.count)", "bytes": "\(inbound.bytes)"])
            setReading(paused: true)
        }
    }

    /// Applies the queue's back-pressure decision to the socket and the keep-alive logic.
    private func setReading(paused: Bool) {
        readGate?.setPaused(paused)
        guard channelConnected else { return }
        session.setReadingPaused(paused, now: .now())
        rescheduleTimer()
    }

    /// Acknowledges several of this client's messages in one trip to its event loop, as
    /// ``MQTTMessage/acknowledge()`` does each; PUBACK/PUBREC still go out in arrival order.
    public func acknowledge(_ messages: [MQTTMessage]) async {
        let tokens = messages.compactMap { $0.client === self ? $0.token : nil }
        guard !tokens.isEmpty else { return }
        try? await eventLoop.submit {
            for token in tokens { self.perform(self.session.acknowledge(token, now: .now())) }
        }.get()
    }

    func acknowledge(_ token: AckToken) async -> Bool {
        (try? await eventLoop.submit { () -> Bool in
            let accepted = self.session.canAcknowledge(token)
            self.perform(self.session.acknowledge(token, now: .now()))
            return accepted
        }.get()) ?? false
    }

    /// Closes the transport without DISCONNECT, as a network failure would (tests).
    func dropConnectionForTesting() async {
        let f: EventLoopFuture<Void> = eventLoop.flatSubmit {
            guard let ch = self.channel else { return self.eventLoop.makeSucceededVoidFuture() }
            ch.close(promise: nil)
            return ch.closeFuture
        }
        try? await f.get()
    }

    private static func makeSSLContext(_ tls: MQTTTLSConfiguration) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        if let ca = tls.caFile { config.trustRoots = .file(ca) }
        if let cert = tls.certificateFile {
            config.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
        }
        if let key = tls.privateKeyFile { config.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)) }
        if !tls.verifyCertificates { config.certificateVerification = .none }
        return try NIOSSLContext(configuration: config)
    }

    private func openConnection() {
        eventLoop.assertInEventLoop()
        guard !shutDown else { return }
        let config = configuration
        let sslContext = self.sslContext
        let decoderMax = config.session.maximumPacketSize.map { Int($0) } ?? (mqttMaxVariableByteInteger + 5)
        let gate = MQTTReadGate()
        let serverName: String? = {
            if let n = config.tls?.serverName { return n }
            if (try? SocketAddress(ipAddress: config.host, port: 0)) != nil { return nil }
            return config.host
        }()
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(config.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                do {
                    let ops = channel.pipeline.syncOperations
                    if let sslContext {
                        try ops.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try ops.addHandler(gate)
                    try ops.addHandler(ByteToMessageHandler(MQTTPacketDecoder(version: config.session.protocolVersion, maximumPacketSize: decoderMax)))
                    try ops.addHandler(MessageToByteHandler(MQTTPacketEncoder(version: config.session.protocolVersion)))
                    try ops.addHandler(MQTTConnectionHandler(client: self))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        bootstrap.connect(host: config.host, port: config.port).hop(to: eventLoop).whenComplete { result in
            switch result {
            case .success(let channel):
                guard !self.shutDown else {
                    channel.close(promise: nil)
                    return
                }
                self.channel = channel
                self.readGate = gate
                self.channelConnected = false
                self.lastCloseError = nil
                self.lastTransportError = nil
                self.perform(self.session.connect(now: .now()))
                // Fires exactly once, also if the connection is already gone.
                channel.closeFuture.hop(to: self.eventLoop).whenComplete { _ in self.channelClosed(channel) }
            case .failure(let error):
                self.logger.info("MQTT connect to \(config.host):\(config.port) failed", metadata: ["error": "\(error)", "attempt": "\(self.reconnectAttempt)"])
                self.connectionAttemptEnded(.connectionClosed, underlying: error)
            }
        }
    }

    /// A connection (or attempt) is over: report, then reconnect or give up.
    private func connectionAttemptEnded(_ error: MQTTError, underlying: Error? = nil) {
        eventLoop.assertInEventLoop()
        var refused = false
        if case .connectionRefused = error { refused = true }
        if let promise = pendingConnect, !everConnected,
           refused || !configuration.retryInitialConnect || !configuration.reconnect.enabled {
            // The first connect() reports its failure to the caller instead of retrying.
            pendingConnect = nil
            started = false
            _ = session.connectionClosed()
            promise.fail(underlying ?? error)
            return
        }
        guard !shutDown else { return }
        eventContinuation.yield(.connectionLost(error))
        guard configuration.reconnect.enabled else { return }
        let delay = configuration.reconnect.delay(attempt: reconnectAttempt, random: Double.random(in: 0..<1))
        reconnectAttempt += 1
        logger.info("MQTT reconnecting", metadata: ["attempt": "\(reconnectAttempt)", "delay_ms": "\(delay.nanoseconds / 1_000_000)"])
        eventContinuation.yield(.reconnecting(attempt: reconnectAttempt, delay: delay))
        reconnectTask = eventLoop.scheduleTask(in: delay) { [self] in
            reconnectTask = nil
            openConnection()
        }
    }

    fileprivate func channelRead(_ packet: MQTTPacket, on channel: Channel) {
        guard channel === self.channel else { return }
        perform(session.received(packet, now: .now()))
    }

    fileprivate func decodeFailed(_ error: Error, on channel: Channel) {
        guard channel === self.channel else { return }
        if let e = error as? MQTTDecodeError {
            let mqttError = MQTTError.protocolViolation(e.reason, e.message)
            if configuration.session.protocolVersion == .v5 && session.state == .connected {
                var props = MQTTProperties()
                props.reasonString = e.message
                channel.write(MQTTPacket.disconnect(DisconnectPacket(reasonCode: e.reason, properties: props)), promise: nil)
                channel.flush()
            }
            lastCloseError = mqttError
            logger.warning("MQTT broker sent a packet we refuse; closing the connection", metadata: ["error": "\(e)"])
        } else {
            // TLS or socket error: surfaced to a failing first connect().
            lastTransportError = error
            logger.warning("MQTT connection error", metadata: ["error": "\(error)"])
        }
        channel.close(promise: nil)
    }

    private func channelClosed(_ channel: Channel) {
        guard channel === self.channel else { return }
        self.channel = nil
        readGate = nil
        timer?.cancel()
        timer = nil
        perform(session.connectionClosed())
        let reason = lastCloseError ?? .connectionClosed
        let underlying = lastCloseError == nil ? lastTransportError : nil
        if channelConnected && !shutDown {
            logger.warning("MQTT disconnected from broker", metadata: ["reason": "\(underlying.map { "\($0)" } ?? "\(reason)")"])
        }
        channelConnected = false
        connectionAttemptEnded(reason, underlying: underlying)
    }

    private func perform(_ actions: [SessionAction]) {
        eventLoop.assertInEventLoop()
        var wrote = false
        for action in actions {
            switch action {
            case .send(let packet):
                if let channel {
                    channel.write(packet, promise: nil)
                    wrote = true
                }
            case .deliver(let m):
                enqueue(MQTTMessage(topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain,
                                    isDuplicate: m.isDuplicate, properties: m.properties, token: m.ackToken, client: self))
            case .connected(let info):
                let meta: Logger.Metadata = ["attempt": "\(reconnectAttempt)", "session_present": "\(info.sessionPresent)"]
                if info.sessionLost {
                    logger.warning("MQTT reconnected but the broker had no session for us: messages may have been lost at the broker", metadata: meta)
                } else {
                    logger.notice(everConnected ? "MQTT reconnected" : "MQTT connected", metadata: meta)
                }
                everConnected = true
                channelConnected = true
                reconnectAttempt = 0
                // Still full from before this connection: pause once CONNACK is in.
                if inbound.paused { setReading(paused: true) }
                eventContinuation.yield(.connected(info))
                pendingConnect?.succeed(info)
                pendingConnect = nil
            case let .publishCompleted(op, result):
                publishPromises.removeValue(forKey: op)?.completeWith(result.mapError { $0 as Error })
            case let .subscribeCompleted(op, result):
                subscribePromises.removeValue(forKey: op)?.completeWith(result.mapError { $0 as Error })
            case let .unsubscribeCompleted(op, result):
                unsubscribePromises.removeValue(forKey: op)?.completeWith(result.mapError { $0 as Error })
            case .close(let error):
                if let error { lastCloseError = error }
                if let channel {
                    if wrote { channel.flush() }
                    wrote = false
                    channel.close(promise: nil)
                }
            }
        }
        if wrote { scheduleFlush() }
        rescheduleTimer()
    }

    /// One flush for everything written until the event loop gets to it: acknowledgements of a
    /// group commit arrive one by one from other threads, and a flush (a send) each cost more
    /// than the rest of their handling.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { [self] in
            flushScheduled = false
            channel?.flush()
        }
    }

    private func rescheduleTimer() {
        let deadline = shutDown ? nil : session.nextDeadline
        // Most actions (an acknowledgement, a delivery) leave the deadline where it was.
        if timer != nil, deadline == timerDeadline { return }
        timer?.cancel()
        timer = nil
        timerDeadline = deadline
        guard let deadline else { return }
        timer = eventLoop.scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            perform(session.tick(now: .now()))
        }
    }
}

/// Forwards pipeline events to the client (on the client's event loop).
final class MQTTConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = MQTTPacket

    private let client: MQTTClient

    init(client: MQTTClient) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.channelRead(unwrapInboundIn(data), on: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        client.decodeFailed(error, on: context.channel)
    }

}
