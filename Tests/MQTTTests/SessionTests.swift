import NIOCore
import Testing
@testable import MQTT
import MillwrightTesting

private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

private func sent(_ actions: [SessionAction]) -> [MQTTPacket] {
    actions.compactMap { if case .send(let p) = $0 { return p } else { return nil } }
}

private func delivered(_ actions: [SessionAction]) -> [InboundPublish] {
    actions.compactMap { if case .deliver(let m) = $0 { return m } else { return nil } }
}

private func publishResults(_ actions: [SessionAction]) -> [OperationID: Result<PublishResult, MQTTError>] {
    var r: [OperationID: Result<PublishResult, MQTTError>] = [:]
    for a in actions { if case let .publishCompleted(op, res) = a { r[op] = res } }
    return r
}

private func closeError(_ actions: [SessionAction]) -> MQTTError?? {
    for a in actions { if case .close(let e) = a { return .some(e) } }
    return nil
}

private func publishIDs(_ actions: [SessionAction]) -> [UInt16] {
    sent(actions).compactMap { if case .publish(let p) = $0 { return p.packetID } else { return nil } }
}

private func disconnectReason(_ actions: [SessionAction]) -> ReasonCode? {
    for p in sent(actions) { if case .disconnect(let d) = p { return d.reasonCode } }
    return nil
}

private func payload(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

/// A session that has sent CONNECT and received the given CONNACK at `t0`.
private func connectedSession(_ config: MQTTSessionConfiguration = .init(clientID: "c1", keepAlive: 30),
                              connack: ConnAckPacket = .init()) -> (MQTTSession, [SessionAction]) {
    var s = MQTTSession(configuration: config)
    _ = s.connect(now: t0)
    let actions = s.received(.connack(connack), now: t0)
    return (s, actions)
}

private func connackWith(_ edit: (inout MQTTProperties) -> Void, sessionPresent: Bool = false) -> ConnAckPacket {
    var p = MQTTProperties()
    edit(&p)
    return ConnAckPacket(sessionPresent: sessionPresent, properties: p)
}

@Suite struct SessionConnectTests {
    @Test func connectPacketV5() throws {
        var s = MQTTSession(configuration: .init(clientID: "gw", cleanStart: false, sessionExpiryInterval: 3600, keepAlive: 20,
                                                 username: "u", password: [1], receiveMaximum: 16, maximumPacketSize: 4096,
                                                 topicAliasMaximum: 8))
        let out = sent(s.connect(now: t0))
        guard case .connect(let c) = try #require(out.first) else { Issue.record("no CONNECT"); return }
        #expect(s.state == .connecting)
        #expect(c.clientID == "gw" && !c.cleanStart && c.keepAlive == 20 && c.username == "u")
        #expect(c.properties.sessionExpiryInterval == 3600)
        #expect(c.properties.receiveMaximum == 16)
        #expect(c.properties.maximumPacketSize == 4096)
        #expect(c.properties.topicAliasMaximum == 8)
    }

    @Test func connAckAppliesServerParameters() throws {
        let connack = connackWith { p in
            p.assignedClientIdentifier = "assigned-7"
            p.serverKeepAlive = 5
            p.receiveMaximum = 3
            p.maximumPacketSize = 200
            p.topicAliasMaximum = 4
            p.maximumQoS = 1
        }
        let (s, actions) = connectedSession(.init(clientID: "", keepAlive: 60), connack: connack)
        #expect(s.state == .connected)
        guard case .connected(let info) = try #require(actions.first) else { Issue.record("no connected"); return }
        #expect(info.clientID == "assigned-7")
        #expect(info.keepAlive == 5)
        #expect(info.receiveMaximum == 3)
        #expect(info.maximumPacketSize == 200)
        #expect(info.topicAliasMaximum == 4)
        #expect(info.maximumQoS == .atLeastOnce)
        #expect(s.nextDeadline == t0 + .seconds(5))  // server keep alive wins
    }

    @Test func reconnectUsesAssignedClientIDAndResumes() throws {
        var (s, _) = connectedSession(.init(clientID: "", cleanStart: true, sessionExpiryInterval: 60),
                                      connack: connackWith { $0.assignedClientIdentifier = "auto-1" })
        _ = s.connectionClosed()
        guard case .connect(let c) = try #require(sent(s.connect(now: t0)).first) else { Issue.record("no CONNECT"); return }
        #expect(c.clientID == "auto-1")
        #expect(!c.cleanStart)
    }

    @Test func v311CleanSessionEveryTime() throws {
        var (s, _) = connectedSession(.init(protocolVersion: .v311, clientID: "c", cleanStart: true))
        _ = s.connectionClosed()
        guard case .connect(let c) = try #require(sent(s.connect(now: t0)).first) else { Issue.record("no CONNECT"); return }
        #expect(c.cleanStart)
        #expect(c.properties.isEmpty)
    }

    @Test func connectionRefused() {
        var s = MQTTSession(configuration: .init(clientID: "c"))
        _ = s.connect(now: t0)
        let actions = s.received(.connack(ConnAckPacket(reasonCode: .notAuthorized)), now: t0)
        #expect(closeError(actions) == .some(.connectionRefused(.notAuthorized, reasonString: nil)))
        #expect(s.state == .closed)
    }

    @Test func v311ReturnCodeRefused() {
        var s = MQTTSession(configuration: .init(protocolVersion: .v311, clientID: "c"))
        _ = s.connect(now: t0)
        let actions = s.received(.connack(ConnAckPacket(reasonCode: ReasonCode.V311.identifierRejected)), now: t0)
        #expect(closeError(actions) == .some(.connectionRefused(ReasonCode.V311.identifierRejected, reasonString: nil)))
    }

    @Test func packetBeforeConnAckIsProtocolError() {
        var s = MQTTSession(configuration: .init(clientID: "c"))
        _ = s.connect(now: t0)
        let actions = s.received(.pingresp, now: t0)
        if case .some(.some(.protocolViolation(let code, _))) = closeError(actions) {
            #expect(code == .protocolError)
        } else {
            Issue.record("expected protocol violation, got \(actions)")
        }
    }

    @Test func serverDisconnect() {
        var (s, _) = connectedSession()
        var props = MQTTProperties()
        props.reasonString = "maintenance"
        let actions = s.received(.disconnect(DisconnectPacket(reasonCode: .serverShuttingDown, properties: props)), now: t0)
        #expect(closeError(actions) == .some(.serverDisconnected(.serverShuttingDown, reasonString: "maintenance")))
        #expect(s.state == .closed)
    }

    @Test func clientDisconnectFailsPendingOperations() throws {
        var (s, _) = connectedSession()
        let (op, _) = try s.publish(PublishPacket(topic: "t", payload: payload("x"), qos: .atLeastOnce), now: t0)
        let actions = s.disconnect(now: t0)
        #expect(sent(actions) == [.disconnect(DisconnectPacket())])
        #expect(publishResults(actions)[op] == .failure(.clientClosed))
        #expect(closeError(actions) == .some(nil))
        #expect(s.state == .disconnecting)
        _ = s.connectionClosed()
        #expect(s.state == .closed)
    }
}

@Suite struct SessionOutboundTests {
    @Test func qos0CompletesOnSend() throws {
        var (s, _) = connectedSession()
        let (op, actions) = try s.publish(PublishPacket(topic: "t", payload: payload("x")), now: t0)
        #expect(sent(actions).count == 1)
        #expect(publishIDs(actions) == [])
        #expect(try publishResults(actions)[op]?.get().reasonCode == .success)
    }

    @Test func qos1Flow() throws {
        var (s, _) = connectedSession()
        let (op, a1) = try s.publish(PublishPacket(topic: "t", payload: payload("x"), qos: .atLeastOnce), now: t0)
        let id = try #require(publishIDs(a1).first)
        #expect(publishResults(a1).isEmpty)
        #expect(s.inflightOutboundCount == 1)
        let a2 = s.received(.puback(PubAckPacket(packetID: id)), now: t0)
        #expect(try publishResults(a2)[op]?.get().reasonCode == .success)
        #expect(s.inflightOutboundCount == 0)
        #expect(s.packetIdentifiersInUse.isEmpty)
    }

    @Test func qos1FailureReason() throws {
        var (s, _) = connectedSession()
        let (op, a1) = try s.publish(PublishPacket(topic: "t", payload: payload("x"), qos: .atLeastOnce), now: t0)
        let id = try #require(publishIDs(a1).first)
        let a2 = s.received(.puback(PubAckPacket(packetID: id, reasonCode: .notAuthorized)), now: t0)
        #expect(publishResults(a2)[op] == .failure(.operationFailed(.notAuthorized, reasonString: nil)))
    }

    @Test func qos2Flow() throws {
        var (s, _) = connectedSession()
        let (op, a1) = try s.publish(PublishPacket(topic: "t", payload: payload("x"), qos: .exactlyOnce), now: t0)
        let id = try #require(publishIDs(a1).first)
        let a2 = s.received(.pubrec(PubAckPacket(packetID: id)), now: t0)
        #expect(sent(a2) == [.pubrel(PubAckPacket(packetID: id))])
        #expect(publishResults(a2).isEmpty)
        // A repeated PUBREC is answered with PUBREL again.
        #expect(sent(s.received(.pubrec(PubAckPacket(packetID: id)), now: t0)) == [.pubrel(PubAckPacket(packetID: id))])
        let a3 = s.received(.pubcomp(PubAckPacket(packetID: id)), now: t0)
        #expect(try publishResults(a3)[op]?.get().reasonCode == .success)
        #expect(s.inflightOutboundCount == 0)
    }

    @Test func qos2PubRecFailureEndsFlow() throws {
        var (s, _) = connectedSession()
        let (op, a1) = try s.publish(PublishPacket(topic: "t", payload: payload("x"), qos: .exactlyOnce), now: t0)
        let id = try #require(publishIDs(a1).first)
        let a2 = s.received(.pubrec(PubAckPacket(packetID: id, reasonCode: .quotaExceeded)), now: t0)
        #expect(sent(a2).isEmpty)
        #expect(publishResults(a2)[op] == .failure(.operationFailed(.quotaExceeded, reasonString: nil)))
    }

    @Test func unknownPubRecGetsPacketIdentifierNotFound() {
        var (s, _) = connectedSession()
        #expect(sent(s.received(.pubrec(PubAckPacket(packetID: 99)), now: t0)) == [.pubrel(PubAckPacket(packetID: 99, reasonCode: .packetIdentifierNotFound))])
    }

    @Test func receiveMaximumLimitsInflight() throws {
        var (s, _) = connectedSession(connack: connackWith { $0.receiveMaximum = 2 })
        var ops: [OperationID] = []
        var ids: [UInt16] = []
        for i in 0..<3 {
            let (op, a) = try s.publish(PublishPacket(topic: "t", payload: payload("\(i)"), qos: .atLeastOnce), now: t0)
            ops.append(op)
            ids += publishIDs(a)
        }
        #expect(ids.count == 2)
        #expect(s.queuedPublishCount == 1)
        // QoS 0 is not subject to receive maximum.
        let (_, q0) = try s.publish(PublishPacket(topic: "t", payload: payload("q0")), now: t0)
        #expect(sent(q0).count == 0)  // but it keeps order behind the queued QoS 1 message
        let a = s.received(.puback(PubAckPacket(packetID: ids[0])), now: t0)
        #expect(publishIDs(a).count == 1)
        #expect(sent(a).count == 2)  // the third QoS 1 message and then the QoS 0 one
        #expect(s.inflightOutboundCount == 2)
    }

    @Test func packetIdentifiersWrapAndSkipZero() throws {
        var (s, _) = connectedSession()
        var last: UInt16 = 0
        var seen: [UInt16] = []
        for _ in 0..<65_537 {
            let (_, a) = try s.publish(PublishPacket(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce), now: t0)
            last = try #require(publishIDs(a).first)
            if seen.count < 3 || last < 3 || last == 65535 { seen.append(last) }
            _ = s.received(.puback(PubAckPacket(packetID: last)), now: t0)
        }
        #expect(seen == [1, 2, 3, 65535, 1, 2])
        #expect(last == 2)
    }

    @Test func packetIdentifiersInUseAreSkippedAndReused() throws {
        var (s, _) = connectedSession()
        // Fill every identifier.
        var ids: [UInt16] = []
        for _ in 0..<65535 {
            let (_, a) = try s.publish(PublishPacket(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce), now: t0)
            ids += publishIDs(a)
        }
        #expect(ids.count == 65535)
        #expect(Set(ids).count == 65535)
        #expect(!ids.contains(0))
        // No identifier left: the next message waits.
        let (_, waiting) = try s.publish(PublishPacket(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce), now: t0)
        #expect(publishIDs(waiting).isEmpty)
        #expect(s.queuedPublishCount == 1)
        // Freeing identifier 4711 lets it through with exactly that identifier.
        let a = s.received(.puback(PubAckPacket(packetID: 4711)), now: t0)
        #expect(publishIDs(a) == [4711])
    }

    @Test func serverLimitsRejectPublish() throws {
        var (s, _) = connectedSession(connack: connackWith { p in
            p.maximumQoS = 0
            p.retainAvailable = 0
            p.maximumPacketSize = 50
        })
        let (op1, a1) = try s.publish(PublishPacket(topic: "t", payload: payload("x"), qos: .atLeastOnce), now: t0)
        #expect(publishResults(a1)[op1] == .failure(.invalidRequest(.qosNotSupported, "server maximum QoS is 0")))
        let (op2, a2) = try s.publish(PublishPacket(topic: "t", payload: payload("x"), retain: true), now: t0)
        if case .failure(.invalidRequest(let code, _))? = publishResults(a2)[op2] { #expect(code == .retainNotSupported) } else { Issue.record("expected failure") }
        let (op3, a3) = try s.publish(PublishPacket(topic: "t", payload: ByteBuffer(repeating: 1, count: 100)), now: t0)
        if case .failure(.invalidRequest(let code, _))? = publishResults(a3)[op3] { #expect(code == .packetTooLarge) } else { Issue.record("expected failure") }
        #expect(sent(a1 + a2 + a3).isEmpty)
        #expect(s.packetIdentifiersInUse.isEmpty)
    }

    @Test func invalidTopicRejected() {
        var (s, _) = connectedSession()
        #expect(throws: MQTTError.self) { try s.publish(PublishPacket(topic: "a/#", payload: ByteBuffer()), now: t0) }
        #expect(throws: MQTTError.self) { try s.subscribe([Subscription("a/#/b")], now: t0) }
    }

    @Test func publishWhileDisconnectedIsSentOnConnect() throws {
        var s = MQTTSession(configuration: .init(clientID: "c"))
        let (op, a) = try s.publish(PublishPacket(topic: "t", payload: payload("early"), qos: .atLeastOnce), now: t0)
        #expect(a.isEmpty)
        _ = s.connect(now: t0)
        let b = s.received(.connack(ConnAckPacket()), now: t0)
        #expect(publishIDs(b) == [1])
        #expect(publishResults(b)[op] == nil)
    }

    @Test func subscribeAndUnsubscribeFlow() throws {
        var (s, _) = connectedSession()
        let (op, a) = try s.subscribe([Subscription("a/#", qos: .atLeastOnce), Subscription("$share/g/b", qos: .exactlyOnce)], now: t0)
        guard case .subscribe(let sub) = try #require(sent(a).first) else { Issue.record("no SUBSCRIBE"); return }
        let ack = SubAckPacket(packetID: sub.packetID, reasonCodes: [.grantedQoS1, .notAuthorized])
        let b = s.received(.suback(ack), now: t0)
        #expect(b.contains(.subscribeCompleted(op, .success(ack))))
        #expect(s.activeSubscriptions.map(\.topicFilter) == ["a/#"])
        let (op2, c) = try s.unsubscribe(["a/#"], now: t0)
        guard case .unsubscribe(let unsub) = try #require(sent(c).first) else { Issue.record("no UNSUBSCRIBE"); return }
        let d = s.received(.unsuback(UnsubAckPacket(packetID: unsub.packetID, reasonCodes: [.success])), now: t0)
        #expect(d.contains(.unsubscribeCompleted(op2, .success(UnsubAckPacket(packetID: unsub.packetID, reasonCodes: [.success])))))
        #expect(s.activeSubscriptions.isEmpty)
    }
}

@Suite struct SessionInboundTests {
    private func inbound(_ id: UInt16, _ qos: QoS, dup: Bool = false, topic: String = "t", props: MQTTProperties = .init()) -> MQTTPacket {
        .publish(PublishPacket(topic: topic, payload: payload("m\(id)"), qos: qos, dup: dup, packetID: qos == .atMostOnce ? nil : id, properties: props))
    }

    @Test func qos0DeliveredWithoutToken() {
        var (s, _) = connectedSession()
        let d = delivered(s.received(inbound(0, .atMostOnce), now: t0))
        #expect(d.count == 1)
        #expect(d[0].ackToken == nil)
    }

    @Test func qos1AckedOnlyByApplicationInArrivalOrder() throws {
        var (s, _) = connectedSession()
        let a = s.received(inbound(1, .atLeastOnce), now: t0)
        let b = s.received(inbound(2, .atLeastOnce), now: t0)
        #expect(sent(a + b).isEmpty)  // nothing acknowledged before the application says so
        let t1 = try #require(delivered(a).first?.ackToken)
        let t2 = try #require(delivered(b).first?.ackToken)
        #expect(sent(s.acknowledge(t2, now: t0)).isEmpty)  // held: PUBACKs go in arrival order
        #expect(sent(s.acknowledge(t1, now: t0)) == [.puback(PubAckPacket(packetID: 1)), .puback(PubAckPacket(packetID: 2))])
        #expect(sent(s.acknowledge(t1, now: t0)).isEmpty)  // repeated acknowledgement is ignored
        #expect(s.unacknowledgedInboundCount == 0)
    }

    /// Tokens find their delivery by serial: many pending, acknowledged in a scrambled order,
    /// still give each PUBACK once, in arrival order; a copy of a pending one is not delivered.
    @Test func manyAcknowledgementsInAnyOrderGoOutOnceInArrivalOrder() throws {
        var (s, _) = connectedSession(.init(clientID: "c", receiveMaximum: 400))
        var tokens: [AckToken] = []
        for id in UInt16(1)...300 { tokens.append(try #require(delivered(s.received(inbound(id, .atLeastOnce), now: t0)).first?.ackToken)) }
        #expect(s.received(inbound(150, .atLeastOnce, dup: true), now: t0).isEmpty, "still pending: not delivered twice")
        // Odd positions from the back, then even ones from the front: most acknowledgements wait.
        let order = Array(stride(from: 299, through: 1, by: -2)) + Array(stride(from: 0, to: 300, by: 2))
        var acked: [UInt16] = []
        for i in order {
            #expect(s.canAcknowledge(tokens[i]))
            acked += sent(s.acknowledge(tokens[i], now: t0)).compactMap { if case .puback(let p) = $0 { p.packetID } else { nil } }
            #expect(!s.canAcknowledge(tokens[i]), "acknowledged once")
        }
        #expect(acked == Array(1...300))
        #expect(s.unacknowledgedInboundCount == 0)
        #expect(sent(s.acknowledge(tokens[0], now: t0)).isEmpty, "a token of a delivery gone is ignored")
    }

    /// Deliveries and acknowledgements interleaved, as a consumer taking batches does: the
    /// pending window slides far past its first position and every token still finds its own.
    @Test func aSlidingWindowOfDeliveriesIsAcknowledgedWholeEveryTime() throws {
        var (s, _) = connectedSession(.init(clientID: "c", receiveMaximum: 64))
        var waiting: [AckToken] = []
        var next: UInt16 = 1
        var acked: [UInt16] = []
        for round in 0..<40 {
            while waiting.count < 64 {
                waiting.append(try #require(delivered(s.received(inbound(next, .atLeastOnce), now: t0)).first?.ackToken, "round \(round)"))
                next += 1
            }
            let batch = waiting.prefix(50 - round % 7)
            waiting.removeFirst(batch.count)
            for token in batch.reversed() {
                acked += sent(s.acknowledge(token, now: t0)).compactMap { if case .puback(let p) = $0 { p.packetID } else { nil } }
            }
            #expect(s.unacknowledgedInboundCount == waiting.count, "round \(round)")
        }
        #expect(acked == Array(1..<UInt16(acked.count + 1)))
    }

    @Test func staleTokenDoesNotAcknowledgeReusedIdentifier() throws {
        var (s, _) = connectedSession()
        let t1 = try #require(delivered(s.received(inbound(1, .atLeastOnce), now: t0)).first?.ackToken)
        _ = s.acknowledge(t1, now: t0)
        // The server reuses identifier 1 for a new message; the old token must not ack it.
        let t1b = try #require(delivered(s.received(inbound(1, .atLeastOnce), now: t0)).first?.ackToken)
        #expect(sent(s.acknowledge(t1, now: t0)).isEmpty)
        #expect(sent(s.acknowledge(t1b, now: t0)) == [.puback(PubAckPacket(packetID: 1))])
    }

    @Test func qos2ExactlyOnceInbound() throws {
        var (s, _) = connectedSession()
        let first = delivered(s.received(inbound(5, .exactlyOnce), now: t0))
        let token = try #require(first.first?.ackToken)
        // A resent copy before the app acknowledged is not delivered again.
        #expect(s.received(inbound(5, .exactlyOnce, dup: true), now: t0).isEmpty)
        #expect(sent(s.acknowledge(token, now: t0)) == [.pubrec(PubAckPacket(packetID: 5))])
        #expect(s.inboundQoS2AwaitingRelease == [5])
        // After PUBREC, duplicates are answered with PUBREC and suppressed.
        let dup = s.received(inbound(5, .exactlyOnce, dup: true), now: t0)
        #expect(delivered(dup).isEmpty)
        #expect(sent(dup) == [.pubrec(PubAckPacket(packetID: 5))])
        #expect(sent(s.received(.pubrel(PubAckPacket(packetID: 5)), now: t0)) == [.pubcomp(PubAckPacket(packetID: 5))])
        #expect(s.inboundQoS2AwaitingRelease.isEmpty)
        // The identifier is free again: a new message with it is delivered.
        #expect(delivered(s.received(inbound(5, .exactlyOnce), now: t0)).count == 1)
    }

    @Test func unknownPubRelGetsPacketIdentifierNotFound() {
        var (s, _) = connectedSession()
        #expect(sent(s.received(.pubrel(PubAckPacket(packetID: 8)), now: t0)) == [.pubcomp(PubAckPacket(packetID: 8, reasonCode: .packetIdentifierNotFound))])
    }

    @Test func qos2DuplicateSuppressionSurvivesReconnect() throws {
        var (s, _) = connectedSession(.init(clientID: "c", sessionExpiryInterval: 60))
        let token = try #require(delivered(s.received(inbound(9, .exactlyOnce), now: t0)).first?.ackToken)
        _ = s.acknowledge(token, now: t0)
        _ = s.connectionClosed()
        _ = s.connect(now: t0)
        _ = s.received(.connack(ConnAckPacket(sessionPresent: true)), now: t0)
        let again = s.received(inbound(9, .exactlyOnce, dup: true), now: t0)
        #expect(delivered(again).isEmpty)
        #expect(sent(again) == [.pubrec(PubAckPacket(packetID: 9))])
    }

    @Test func unacknowledgedDeliveryIsRedeliveredAfterReconnect() throws {
        var (s, _) = connectedSession(.init(clientID: "c", sessionExpiryInterval: 60))
        let token = try #require(delivered(s.received(inbound(3, .atLeastOnce), now: t0)).first?.ackToken)
        _ = s.connectionClosed()
        _ = s.connect(now: t0)
        _ = s.received(.connack(ConnAckPacket(sessionPresent: true)), now: t0)
        // The old token is stale: acknowledging it sends nothing on the new connection.
        #expect(s.acknowledge(token, now: t0).isEmpty)
        let redelivered = delivered(s.received(inbound(3, .atLeastOnce, dup: true), now: t0))
        #expect(redelivered.count == 1)
        #expect(redelivered[0].isDuplicate)
        #expect(sent(s.acknowledge(try #require(redelivered[0].ackToken), now: t0)) == [.puback(PubAckPacket(packetID: 3))])
    }

    @Test func inboundReceiveMaximumEnforced() throws {
        var (s, _) = connectedSession(.init(clientID: "c", receiveMaximum: 2))
        _ = s.received(inbound(1, .atLeastOnce), now: t0)
        _ = s.received(inbound(2, .exactlyOnce), now: t0)
        let a = s.received(inbound(3, .atLeastOnce), now: t0)
        #expect(disconnectReason(a) == .receiveMaximumExceeded)
        #expect(s.state == .closed)
    }

    @Test func topicAliases() throws {
        var (s, _) = connectedSession(.init(clientID: "c", topicAliasMaximum: 2))
        var p = MQTTProperties()
        p.topicAlias = 1
        let first = delivered(s.received(inbound(0, .atMostOnce, topic: "vision/cam7/detections", props: p), now: t0))
        #expect(first.first?.topic == "vision/cam7/detections")
        let second = delivered(s.received(inbound(0, .atMostOnce, topic: "", props: p), now: t0))
        #expect(second.first?.topic == "vision/cam7/detections")
        // Unknown alias: protocol error.
        var p2 = MQTTProperties()
        p2.topicAlias = 2
        let bad = s.received(inbound(0, .atMostOnce, topic: "", props: p2), now: t0)
        #expect(disconnectReason(bad) == .protocolError)
    }

    @Test func topicAliasAboveMaximum() {
        var (s, _) = connectedSession(.init(clientID: "c", topicAliasMaximum: 2))
        var p = MQTTProperties()
        p.topicAlias = 3
        let a = s.received(inbound(0, .atMostOnce, topic: "x", props: p), now: t0)
        #expect(disconnectReason(a) == .topicAliasInvalid)
    }

    @Test func aliasesResetPerConnection() {
        var (s, _) = connectedSession(.init(clientID: "c", topicAliasMaximum: 2))
        var p = MQTTProperties()
        p.topicAlias = 1
        _ = s.received(inbound(0, .atMostOnce, topic: "a", props: p), now: t0)
        _ = s.connectionClosed()
        _ = s.connect(now: t0)
        _ = s.received(.connack(ConnAckPacket()), now: t0)
        let a = s.received(inbound(0, .atMostOnce, topic: "", props: p), now: t0)
        #expect(delivered(a).isEmpty)
        #expect(s.state == .closed)
    }
}

@Suite struct SessionKeepAliveTests {
    @Test func pingAfterIdleKeepAlive() {
        var (s, _) = connectedSession(.init(clientID: "c", keepAlive: 30, responseTimeout: .seconds(5)))
        #expect(s.nextDeadline == t0 + .seconds(30))
        #expect(s.tick(now: t0 + .seconds(29)).isEmpty)
        #expect(sent(s.tick(now: t0 + .seconds(30))) == [.pingreq])
        #expect(s.nextDeadline == t0 + .seconds(35))
        #expect(s.tick(now: t0 + .seconds(34)).isEmpty)
        _ = s.received(.pingresp, now: t0 + .seconds(31))
        #expect(s.nextDeadline == t0 + .seconds(60))
        #expect(s.state == .connected)
    }

    @Test func missingPingRespClosesConnection() {
        var (s, _) = connectedSession(.init(clientID: "c", keepAlive: 10, responseTimeout: .seconds(5)))
        _ = s.tick(now: t0 + .seconds(10))
        let a = s.tick(now: t0 + .seconds(15))
        #expect(closeError(a) == .some(.keepAliveTimeout))
        #expect(s.state == .closed)
        #expect(s.nextDeadline == nil)
    }

    @Test func sendingResetsKeepAlive() throws {
        var (s, _) = connectedSession(.init(clientID: "c", keepAlive: 10))
        _ = try s.publish(PublishPacket(topic: "t", payload: ByteBuffer()), now: t0 + .seconds(8))
        #expect(s.tick(now: t0 + .seconds(10)).isEmpty)
        #expect(s.nextDeadline == t0 + .seconds(18))
    }

    @Test func keepAliveZeroDisablesPing() {
        let (s, _) = connectedSession(.init(clientID: "c", keepAlive: 0))
        #expect(s.nextDeadline == nil)
    }

    @Test func connAckTimeout() {
        var s = MQTTSession(configuration: .init(clientID: "c", responseTimeout: .seconds(3)))
        _ = s.connect(now: t0)
        #expect(s.nextDeadline == t0 + .seconds(3))
        #expect(s.tick(now: t0 + .seconds(2)).isEmpty)
        #expect(closeError(s.tick(now: t0 + .seconds(3))) == .some(.timeout))
    }
}

@Suite struct SessionResumeTests {
    @Test func resendUnacknowledgedWithSessionPresent() throws {
        var (s, _) = connectedSession(.init(clientID: "c", sessionExpiryInterval: 300))
        let (op1, a1) = try s.publish(PublishPacket(topic: "t", payload: payload("one"), qos: .atLeastOnce), now: t0)
        let (op2, a2) = try s.publish(PublishPacket(topic: "t", payload: payload("two"), qos: .exactlyOnce), now: t0)
        let id1 = try #require(publishIDs(a1).first)
        let id2 = try #require(publishIDs(a2).first)
        _ = s.received(.pubrec(PubAckPacket(packetID: id2)), now: t0)  // QoS 2 now awaits PUBCOMP
        let (op3, a3) = try s.publish(PublishPacket(topic: "t", payload: payload("three"), qos: .exactlyOnce), now: t0)
        let id3 = try #require(publishIDs(a3).first)
        _ = s.connectionClosed()
        #expect(s.state == .closed)

        guard case .connect(let c) = try #require(sent(s.connect(now: t0)).first) else { Issue.record("no CONNECT"); return }
        #expect(!c.cleanStart)
        let resumed = sent(s.received(.connack(ConnAckPacket(sessionPresent: true)), now: t0))
        #expect(resumed == [
            .publish(PublishPacket(topic: "t", payload: payload("one"), qos: .atLeastOnce, dup: true, packetID: id1)),
            .pubrel(PubAckPacket(packetID: id2)),
            .publish(PublishPacket(topic: "t", payload: payload("three"), qos: .exactlyOnce, dup: true, packetID: id3)),
        ])
        #expect(publishResults(s.received(.puback(PubAckPacket(packetID: id1)), now: t0))[op1] != nil)
        #expect(publishResults(s.received(.pubcomp(PubAckPacket(packetID: id2)), now: t0))[op2] != nil)
        _ = s.received(.pubrec(PubAckPacket(packetID: id3)), now: t0)
        #expect(publishResults(s.received(.pubcomp(PubAckPacket(packetID: id3)), now: t0))[op3] != nil)
        #expect(s.inflightOutboundCount == 0)
    }

    @Test func sessionLostRequeuesAsNewAndResubscribes() throws {
        var (s, _) = connectedSession(.init(clientID: "c", sessionExpiryInterval: 300))
        let (_, sa) = try s.subscribe([Subscription("det/#", qos: .atLeastOnce)], now: t0)
        guard case .subscribe(let sub) = try #require(sent(sa).first) else { Issue.record("no SUBSCRIBE"); return }
        _ = s.received(.suback(SubAckPacket(packetID: sub.packetID, reasonCodes: [.grantedQoS1])), now: t0)
        let (op1, a1) = try s.publish(PublishPacket(topic: "t", payload: payload("one"), qos: .atLeastOnce), now: t0)
        let (op2, a2) = try s.publish(PublishPacket(topic: "t", payload: payload("two"), qos: .exactlyOnce), now: t0)
        _ = s.received(.pubrec(PubAckPacket(packetID: try #require(publishIDs(a2).first))), now: t0)
        _ = publishIDs(a1)
        _ = s.connectionClosed()
        _ = s.connect(now: t0)
        let actions = s.received(.connack(ConnAckPacket(sessionPresent: false)), now: t0)
        let packets = sent(actions)
        // Resubscribe first, then message one again as a new message (DUP=0).
        guard case .subscribe(let resub) = try #require(packets.first) else { Issue.record("no resubscribe: \(packets)"); return }
        #expect(resub.subscriptions.map(\.topicFilter) == ["det/#"])
        guard case .publish(let p) = try #require(packets.last) else { Issue.record("no publish"); return }
        #expect(!p.dup && p.payload == payload("one"))
        // Message two had reached the server (PUBREC): complete.
        #expect(try publishResults(actions)[op2]?.get().reasonCode == .success)
        #expect(publishResults(actions)[op1] == nil)
    }

    @Test func unansweredSubscribeIsResentAfterReconnect() throws {
        var (s, _) = connectedSession()
        let (op, a) = try s.subscribe([Subscription("x/#")], now: t0)
        #expect(sent(a).count == 1)
        _ = s.connectionClosed()
        _ = s.connect(now: t0)
        let b = s.received(.connack(ConnAckPacket(sessionPresent: true)), now: t0)
        guard case .subscribe(let sub) = try #require(sent(b).first) else { Issue.record("no SUBSCRIBE"); return }
        let ack = SubAckPacket(packetID: sub.packetID, reasonCodes: [.grantedQoS1])
        #expect(s.received(.suback(ack), now: t0).contains(.subscribeCompleted(op, .success(ack))))
    }
}

@Suite struct ReconnectPolicyTests {
    @Test func exponentialBackoffWithCapAndJitter() {
        let p = MQTTReconnectPolicy(quickAttempts: 0, initialDelay: .milliseconds(100), maximumDelay: .seconds(2), multiplier: 2, jitter: 0.5)
        #expect(p.delay(attempt: 0, random: 0) == .milliseconds(100))
        #expect(p.delay(attempt: 3, random: 0) == .milliseconds(800))
        #expect(p.delay(attempt: 10, random: 0) == .seconds(2))
        #expect(p.delay(attempt: 1000, random: 0) == .seconds(2))
        #expect(p.delay(attempt: 3, random: 1) == .milliseconds(400))
        #expect(p.delay(attempt: 3, random: 0.5) == .milliseconds(600))
    }
}
