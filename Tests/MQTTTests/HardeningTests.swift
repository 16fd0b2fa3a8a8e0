import NIOCore
import Testing
@testable import MQTT
import MillwrightTesting

private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

private func sentPackets(_ actions: [SessionAction]) -> [MQTTPacket] {
    actions.compactMap { if case .send(let p) = $0 { return p } else { return nil } }
}

private func connectPacket(_ actions: [SessionAction]) -> ConnectPacket? {
    for p in sentPackets(actions) { if case .connect(let c) = p { return c } }
    return nil
}

private func connectedInfo(_ actions: [SessionAction]) -> ConnectionInfo? {
    for a in actions { if case .connected(let i) = a { return i } }
    return nil
}

private func closes(_ actions: [SessionAction]) -> Bool {
    actions.contains { if case .close = $0 { true } else { false } }
}

private func inboundQoS1(_ id: UInt16) -> MQTTPacket {
    .publish(PublishPacket(topic: "t", payload: ByteBuffer(string: "m\(id)"), qos: .atLeastOnce, packetID: id))
}

/// The fixed header of a PUBLISH whose Remaining Length is `remaining`, and nothing of its body.
private func publishHeader(remaining: Int) -> ByteBuffer {
    var b = ByteBuffer()
    b.writeInteger(UInt8(0x32))
    b.writeMQTTVariableByteInteger(remaining)
    return b
}

@Suite struct BoundedMemoryTests {
    @Test func decoderRefusesOversizeRemainingLengthBeforeTheBodyArrives() throws {
        var first = publishHeader(remaining: 40 * 1024 * 1024)
        first.writeBytes([0x00, 0x01, 0x74])   // the start of the topic; 40 MB still to come
        do {
            _ = try MQTTPacketCodec.decode(from: &first, version: .v5, maximumPacketSize: 8 * 1024 * 1024)
            Issue.record("a 40 MB packet header was accepted (the decoder would buffer the body)")
        } catch let e as MQTTDecodeError {
            #expect(e.reason == .packetTooLarge)
            #expect(e.message.contains("41943045") && e.message.contains("8388608"))
        }
    }

    @Test func connectAdvertisesMaximumPacketSizeAndReceiveMaximum64ByDefault() throws {
        var s = MQTTSession(configuration: MQTTSessionConfiguration(clientID: "gw"))
        let c = try #require(connectPacket(s.connect(now: t0)))
        #expect(c.properties.receiveMaximum == 64)
        let advertised: UInt32? = c.properties.maximumPacketSize
        #expect(advertised == UInt32(8 << 20))
        // Encoded on the wire (properties 0x21 Receive Maximum, 0x27 Maximum Packet Size).
        var wire = ByteBuffer()
        try MQTTPacketCodec.encode(.connect(c), version: .v5, into: &wire)
        let decoded = try #require(try MQTTPacketCodec.decode(from: &wire, version: .v5))
        guard case .connect(let back) = decoded else { Issue.record("not a CONNECT"); return }
        #expect(back.properties.receiveMaximum == 64 && back.properties.maximumPacketSize == 8 * 1024 * 1024)
    }

    @Test func resumedSessionBacklogBeyondReceiveMaximumIsTolerated() throws {
        var s = MQTTSession(configuration: .init(clientID: "c", cleanStart: false, sessionExpiryInterval: 300, receiveMaximum: 2))
        _ = s.connect(now: t0)
        _ = s.received(.connack(ConnAckPacket()), now: t0)
        _ = s.connectionClosed()
        _ = s.connect(now: t0)
        _ = s.received(.connack(ConnAckPacket(sessionPresent: true)), now: t0)
        // mosquitto resends the whole backlog at once: keep taking it rather than looping on 0x93.
        for id in UInt16(1)...5 { #expect(!closes(s.received(inboundQoS1(id), now: t0))) }
        #expect(s.state == .connected)
        #expect(s.unacknowledgedInboundCount == 5)
    }

    @Test func sharedSubscriptionDeliveriesBeyondReceiveMaximumAreTolerated() throws {
        var s = MQTTSession(configuration: .init(clientID: "c", cleanStart: false, sessionExpiryInterval: 300, receiveMaximum: 2))
        _ = s.connect(now: t0)
        _ = s.received(.connack(ConnAckPacket()), now: t0)
        let (_, a) = try s.subscribe([Subscription("$share/mw/t", qos: .atLeastOnce)], now: t0)
        guard case .subscribe(let sub) = sentPackets(a).first else { Issue.record("no SUBSCRIBE"); return }
        _ = s.received(.suback(SubAckPacket(packetID: sub.packetID, reasonCodes: [.grantedQoS1])), now: t0)
        // mosquitto 2.0 sends a shared subscription's messages past our quota on a fresh session.
        for id in UInt16(1)...5 { #expect(!closes(s.received(inboundQoS1(id), now: t0))) }
        #expect(s.state == .connected)
        #expect(s.unacknowledgedInboundCount == 5)
    }

    @Test func receiveMaximumIsNotEnforcedOnMQTT311() {
        var s = MQTTSession(configuration: .init(protocolVersion: .v311, clientID: "c", receiveMaximum: 2))
        _ = s.connect(now: t0)
        _ = s.received(.connack(ConnAckPacket()), now: t0)
        for id in UInt16(1)...4 { #expect(!closes(s.received(inboundQoS1(id), now: t0))) }
    }

    @Test func pausedReadingSuspendsThePingTimeout() {
        var s = MQTTSession(configuration: .init(clientID: "c", keepAlive: 30, responseTimeout: .seconds(10)))
        _ = s.connect(now: t0)
        _ = s.received(.connack(ConnAckPacket()), now: t0)
        #expect(sentPackets(s.tick(now: t0 + .seconds(30))) == [.pingreq])
        s.setReadingPaused(true, now: t0 + .seconds(31))
        // The PINGRESP may sit unread in the socket: no timeout, and pings keep the server happy.
        #expect(!closes(s.tick(now: t0 + .seconds(45))))
        #expect(sentPackets(s.tick(now: t0 + .seconds(60))) == [.pingreq])
        s.setReadingPaused(false, now: t0 + .seconds(70))
        #expect(!closes(s.tick(now: t0 + .seconds(75))))
        #expect(closes(s.tick(now: t0 + .seconds(80))))
    }

    @Test func inboundQueuePausesAtALimitAndResumesAtHalf() {
        var q = InboundQueue<Int>(limits: MQTTInboundLimits(messages: 4, bytes: 1000))
        var pauses = (1...5).map { q.push($0, bytes: 10) }
        // The 4th message stops reading; the rest of that read (the 5th) is still kept.
        #expect(pauses == [false, false, false, true, false] && q.paused && q.count == 5)
        var resumes = (1...3).map { _ in q.pop()?.resume }
        #expect(resumes == [false, false, true])     // 2 left = half: read again
        var bytes = InboundQueue<Int>(limits: MQTTInboundLimits(messages: 100, bytes: 1000))
        pauses = [bytes.push(1, bytes: 600), bytes.push(2, bytes: 600)]
        #expect(pauses == [false, true])              // byte limit
        resumes = [bytes.pop()?.resume, bytes.pop()?.resume]
        #expect(resumes == [false, true])             // 600 left > 500, then 0
    }
}

@Suite struct SessionLostTests {
    @Test func reconnectWithoutSessionAfterCleanStartOffIsSessionLost() throws {
        var s = MQTTSession(configuration: .init(clientID: "gw", cleanStart: false, sessionExpiryInterval: 86_400))
        _ = s.connect(now: t0)
        // First connection: no session yet is normal (first start), not a loss.
        #expect(connectedInfo(s.received(.connack(ConnAckPacket(sessionPresent: false)), now: t0))?.sessionLost == false)
        _ = s.connectionClosed()
        _ = s.connect(now: t0)
        #expect(connectedInfo(s.received(.connack(ConnAckPacket(sessionPresent: true)), now: t0))?.sessionLost == false)
        _ = s.connectionClosed()
        _ = s.connect(now: t0)
        let info = try #require(connectedInfo(s.received(.connack(ConnAckPacket(sessionPresent: false)), now: t0)))
        #expect(info.sessionLost && !info.sessionPresent)
    }

    @Test func noSessionExpectedIsNotALoss() throws {
        // MQTT 5 with session expiry 0: the session ends with the connection.
        var v5 = MQTTSession(configuration: .init(clientID: "c", cleanStart: false, sessionExpiryInterval: 0))
        _ = v5.connect(now: t0)
        _ = v5.received(.connack(ConnAckPacket()), now: t0)
        _ = v5.connectionClosed()
        _ = v5.connect(now: t0)
        #expect(connectedInfo(v5.received(.connack(ConnAckPacket()), now: t0))?.sessionLost == false)
        // MQTT 3.1.1 with Clean Session: nothing to lose.
        var clean = MQTTSession(configuration: .init(protocolVersion: .v311, clientID: "c", cleanStart: true))
        _ = clean.connect(now: t0)
        _ = clean.received(.connack(ConnAckPacket()), now: t0)
        _ = clean.connectionClosed()
        _ = clean.connect(now: t0)
        #expect(connectedInfo(clean.received(.connack(ConnAckPacket()), now: t0))?.sessionLost == false)
        // MQTT 3.1.1 persistent session that the broker forgot: lost.
        var kept = MQTTSession(configuration: .init(protocolVersion: .v311, clientID: "c", cleanStart: false))
        _ = kept.connect(now: t0)
        _ = kept.received(.connack(ConnAckPacket()), now: t0)
        _ = kept.connectionClosed()
        _ = kept.connect(now: t0)
        #expect(connectedInfo(kept.received(.connack(ConnAckPacket()), now: t0))?.sessionLost == true)
    }
}

@Suite struct QuickReconnectTests {
    @Test func firstAttemptsComeWithin100msBeforeBackoff() {
        let p = MQTTReconnectPolicy()
        for attempt in 0..<p.quickAttempts {
            #expect(p.delay(attempt: attempt, random: 0) <= .milliseconds(100))
        }
        #expect(p.quickAttempts >= 2)
        // Then the exponential schedule starts from its initial delay.
        #expect(p.delay(attempt: p.quickAttempts, random: 0) == p.initialDelay)
        #expect(p.delay(attempt: p.quickAttempts + 1, random: 0) == .milliseconds(400))
    }
}
