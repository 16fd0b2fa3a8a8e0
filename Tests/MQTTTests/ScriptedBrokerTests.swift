import NIOCore
import NIOPosix
import Testing
@testable import MQTT
import MillwrightTesting

/// One accepted connection of a ``ScriptedBroker``; its methods must be called on its event loop
/// (they are, from the script).
struct ScriptedConnection: @unchecked Sendable {
    let channel: Channel
    var version: MQTTProtocolVersion = .v5

    func send(_ packet: MQTTPacket) {
        var buffer = channel.allocator.buffer(capacity: 64)
        try! MQTTPacketCodec.encode(packet, version: version, into: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    func sendRaw(_ bytes: [UInt8]) {
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }
}

/// A minimal scripted MQTT server on loopback, for behaviour mosquitto cannot be made to show
/// (server DISCONNECT with a reason, unanswered PINGREQ, malformed packets).
final class ScriptedBroker: @unchecked Sendable {
    let channel: Channel
    let received = Collector<MQTTPacket>()
    var port: Int { channel.localAddress!.port! }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = MQTTPacket
        let script: @Sendable (MQTTPacket, ScriptedConnection) -> Void
        let received: Collector<MQTTPacket>
        init(script: @escaping @Sendable (MQTTPacket, ScriptedConnection) -> Void, received: Collector<MQTTPacket>) {
            self.script = script
            self.received = received
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let packet = unwrapInboundIn(data)
            let r = received
            Task { await r.append(packet) }
            script(packet, ScriptedConnection(channel: context.channel))
        }
    }

    init(port: Int = 0, script: @escaping @Sendable (MQTTPacket, ScriptedConnection) -> Void) async throws {
        let received = self.received
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                do {
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(MQTTPacketDecoder(version: .v5)))
                    try child.pipeline.syncOperations.addHandler(Handler(script: script, received: received))
                    return child.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return child.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
    }

    func stop() async { try? await channel.close() }

    func clientConfiguration(keepAlive: UInt16 = 30, responseTimeout: TimeAmount = .seconds(10),
                             maximumPacketSize: UInt32? = nil) -> MQTTClientConfiguration {
        MQTTClientConfiguration(host: "127.0.0.1", port: port,
                                session: .init(clientID: "scripted", keepAlive: keepAlive, responseTimeout: responseTimeout,
                                               maximumPacketSize: maximumPacketSize),
                                reconnect: .disabled)
    }
}

private func lostWith(_ events: [MQTTClientEvent], _ match: (MQTTError) -> Bool) -> Bool {
    events.contains { if case .connectionLost(let e) = $0 { match(e) } else { false } }
}

@Suite(.timeLimit(.minutes(1))) struct ScriptedBrokerTests {
    @Test func serverDisconnectWithReasonIsReported() async throws {
        let broker = try await ScriptedBroker { packet, conn in
            if case .connect = packet {
                conn.send(.connack(ConnAckPacket()))
                var props = MQTTProperties()
                props.reasonString = "maintenance"
                conn.send(.disconnect(DisconnectPacket(reasonCode: .serverShuttingDown, properties: props)))
            }
        }
        let client = MQTTClient(configuration: broker.clientConfiguration())
        let events = Collector<MQTTClientEvent>()
        recordEvents(client, into: events)
        try await client.connect()
        try await events.waitUntil("server DISCONNECT") { lostWith($0) { $0 == .serverDisconnected(.serverShuttingDown, reasonString: "maintenance") } }
        #expect(await client.state == .closed)
        await client.disconnect()
        await broker.stop()
    }

    @Test func unansweredPingClosesConnection() async throws {
        let broker = try await ScriptedBroker { packet, conn in
            if case .connect = packet { conn.send(.connack(ConnAckPacket())) }
            // PINGREQ is never answered.
        }
        let client = MQTTClient(configuration: broker.clientConfiguration(keepAlive: 1, responseTimeout: .milliseconds(500)))
        let events = Collector<MQTTClientEvent>()
        recordEvents(client, into: events)
        try await client.connect()
        try await broker.received.waitUntil("PINGREQ", timeout: 5) { $0.contains(.pingreq) }
        try await events.waitUntil("keep-alive timeout", timeout: 5) { lostWith($0) { $0 == .keepAliveTimeout } }
        await client.disconnect()
        await broker.stop()
    }

    @Test func malformedPacketFromServerGetsDisconnect0x81() async throws {
        let broker = try await ScriptedBroker { packet, conn in
            if case .connect = packet {
                conn.send(.connack(ConnAckPacket()))
                conn.sendRaw([0x41, 0x02, 0x00, 0x01])  // PUBACK with reserved flags set
            }
        }
        let client = MQTTClient(configuration: broker.clientConfiguration())
        let events = Collector<MQTTClientEvent>()
        recordEvents(client, into: events)
        try await client.connect()
        try await broker.received.waitUntil("DISCONNECT 0x81 from the client", timeout: 5) { packets in
            packets.contains { if case .disconnect(let d) = $0 { d.reasonCode == .malformedPacket } else { false } }
        }
        try await events.waitUntil("connection closed as malformed") { lostWith($0) { if case .protocolViolation(.malformedPacket, _) = $0 { true } else { false } } }
        await client.disconnect()
        await broker.stop()
    }

    @Test func connAckTimeout() async throws {
        let broker = try await ScriptedBroker { _, _ in }  // never answers CONNECT
        let client = MQTTClient(configuration: broker.clientConfiguration(responseTimeout: .milliseconds(300)))
        await #expect(throws: MQTTError.timeout) { try await client.connect() }
        await client.disconnect()
        await broker.stop()
    }

    @Test func publishWaitsForPubAckAndReportsFailureReason() async throws {
        let broker = try await ScriptedBroker { packet, conn in
            switch packet {
            case .connect: conn.send(.connack(ConnAckPacket()))
            case .publish(let p) where p.topic == "denied":
                conn.send(.puback(PubAckPacket(packetID: p.packetID!, reasonCode: .notAuthorized)))
            case .publish(let p) where p.qos == .atLeastOnce:
                conn.send(.puback(PubAckPacket(packetID: p.packetID!)))
            default: break
            }
        }
        let client = MQTTClient(configuration: broker.clientConfiguration())
        try await client.connect()
        let ok = try await client.publish(topic: "allowed", payload: "x", qos: .atLeastOnce)
        #expect(ok.reasonCode == .success)
        await #expect(throws: MQTTError.operationFailed(.notAuthorized, reasonString: nil)) {
            try await client.publish(topic: "denied", payload: "x", qos: .atLeastOnce)
        }
        await client.disconnect()
        await broker.stop()
    }

    @Test func oversizedInboundPacketGetsDisconnect0x95() async throws {
        let broker = try await ScriptedBroker { packet, conn in
            if case .connect(let c) = packet {
                #expect(c.properties.maximumPacketSize == 100)
                conn.send(.connack(ConnAckPacket()))
                conn.send(.publish(PublishPacket(topic: "big", payload: ByteBuffer(repeating: 7, count: 500))))
            }
        }
        let client = MQTTClient(configuration: broker.clientConfiguration(maximumPacketSize: 100))
        try await client.connect()
        try await broker.received.waitUntil("DISCONNECT 0x95 from the client", timeout: 5) { packets in
            packets.contains { if case .disconnect(let d) = $0 { d.reasonCode == .packetTooLarge } else { false } }
        }
        await client.disconnect()
        await broker.stop()
    }

    @Test func initialConnectRetriesUntilBrokerIsUp() async throws {
        let port = try freeLoopbackPort()
        let client = MQTTClient(configuration: MQTTClientConfiguration(
            host: "127.0.0.1", port: port, session: .init(clientID: "early"),
            reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(100)),
            retryInitialConnect: true))
        let events = Collector<MQTTClientEvent>()
        recordEvents(client, into: events)
        let connecting = Task { try await client.connect() }
        // The broker appears only after the client has failed at least twice.
        try await events.waitUntil("two failed attempts", timeout: 60) { events in
            events.filter { if case .reconnecting = $0 { true } else { false } }.count >= 2
        }
        dbg("two failures seen")
        let broker = try await ScriptedBroker(port: port) { packet, conn in
            if case .connect = packet { conn.send(.connack(ConnAckPacket())) }
        }
        dbg("broker up")
        let info = try await withTimeout(10, "connect() after the broker came up") { try await connecting.value }
        dbg("connected")
        #expect(info.clientID == "early")
        await client.disconnect()
        await broker.stop()
    }
}
