import NIOCore
import Testing
@testable import MQTT
import MillwrightTesting

private func encode(_ p: MQTTPacket, _ v: MQTTProtocolVersion) throws -> ByteBuffer {
    var buf = ByteBuffer()
    try MQTTPacketCodec.encode(p, version: v, into: &buf)
    return buf
}

private func roundTrip(_ p: MQTTPacket, _ v: MQTTProtocolVersion) throws -> MQTTPacket {
    var buf = try encode(p, v)
    let decoded = try #require(try MQTTPacketCodec.decode(from: &buf, version: v))
    #expect(buf.readableBytes == 0)
    return decoded
}

private func decodeError(_ bytes: [UInt8], _ v: MQTTProtocolVersion = .v5, max: Int = 1 << 28) -> ReasonCode? {
    var buf = ByteBuffer(bytes: bytes)
    do {
        _ = try MQTTPacketCodec.decode(from: &buf, version: v, maximumPacketSize: max)
        return nil
    } catch let e as MQTTDecodeError {
        return e.reason
    } catch {
        Issue.record("unexpected error type \(error)")
        return nil
    }
}

/// Builds a packet from a first byte and a body, computing the remaining length.
private func packet(_ first: UInt8, _ body: [UInt8]) -> [UInt8] {
    var b = ByteBuffer()
    b.writeInteger(first)
    b.writeMQTTVariableByteInteger(body.count)
    b.writeBytes(body)
    return Array(b.readableBytesView)
}

private func str(_ s: String) -> [UInt8] {
    let u = Array(s.utf8)
    return [UInt8(u.count >> 8), UInt8(u.count & 0xFF)] + u
}

private var fullPublishProperties: MQTTProperties {
    var p = MQTTProperties()
    p.payloadFormatIndicator = 1
    p.messageExpiryInterval = 3600
    p.contentType = "application/json"
    p.responseTopic = "reply/here"
    p.correlationData = [1, 2, 3]
    p.subscriptionIdentifiers = [7, 300_000]
    p.topicAlias = 3
    p.userProperties = [UserProperty("a", "1"), UserProperty("a", "2"), UserProperty("ü", "✓")]
    return p
}

/// One instance of every packet type, with MQTT 5 properties and reason codes.
private func allPacketsV5() -> [MQTTPacket] {
    var connectProps = MQTTProperties()
    connectProps.sessionExpiryInterval = 120
    connectProps.receiveMaximum = 10
    connectProps.maximumPacketSize = 65536
    connectProps.topicAliasMaximum = 5
    connectProps.requestResponseInformation = 1
    connectProps.requestProblemInformation = 0
    connectProps.authenticationMethod = "SCRAM"
    connectProps.authenticationData = [9, 9]
    connectProps.userProperties = [UserProperty("site", "plant-1")]
    var willProps = MQTTProperties()
    willProps.willDelayInterval = 5
    willProps.messageExpiryInterval = 60
    willProps.contentType = "text/plain"
    willProps.payloadFormatIndicator = 1
    let will = WillMessage(topic: "status/gw", payload: ByteBuffer(string: "offline"), qos: .atLeastOnce, retain: true, properties: willProps)
    var connackProps = MQTTProperties()
    connackProps.sessionExpiryInterval = 60
    connackProps.assignedClientIdentifier = "auto-123"
    connackProps.serverKeepAlive = 30
    connackProps.receiveMaximum = 20
    connackProps.topicAliasMaximum = 10
    connackProps.maximumQoS = 1
    connackProps.retainAvailable = 0
    connackProps.maximumPacketSize = 1024
    connackProps.wildcardSubscriptionAvailable = 1
    connackProps.subscriptionIdentifierAvailable = 0
    connackProps.sharedSubscriptionAvailable = 1
    connackProps.responseInformation = "resp"
    connackProps.serverReference = "other:1883"
    connackProps.reasonString = "welcome"
    var ackProps = MQTTProperties()
    ackProps.reasonString = "quota"
    ackProps.userProperties = [UserProperty("k", "v")]
    var subProps = MQTTProperties()
    subProps.subscriptionIdentifiers = [42]
    var discProps = MQTTProperties()
    discProps.sessionExpiryInterval = 0
    discProps.reasonString = "bye"
    discProps.serverReference = "x"
    var authProps = MQTTProperties()
    authProps.authenticationMethod = "SCRAM"
    authProps.authenticationData = [1]
    authProps.reasonString = "more"
    return [
        .connect(ConnectPacket(protocolVersion: .v5, clientID: "gw-1", cleanStart: false, keepAlive: 45, username: "user",
                               password: [0, 1, 255], will: will, properties: connectProps)),
        .connect(ConnectPacket(protocolVersion: .v5, clientID: "", cleanStart: true, keepAlive: 0, password: [1])),
        .connack(ConnAckPacket(sessionPresent: true, reasonCode: .success, properties: connackProps)),
        .connack(ConnAckPacket(sessionPresent: false, reasonCode: .notAuthorized)),
        .publish(PublishPacket(topic: "a/b", payload: ByteBuffer(string: "hello"), qos: .exactlyOnce, retain: true, dup: true,
                               packetID: 65535, properties: fullPublishProperties)),
        .publish(PublishPacket(topic: "a", payload: ByteBuffer(), qos: .atMostOnce)),
        .publish(PublishPacket(topic: "", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, packetID: 1,
                               properties: { var p = MQTTProperties(); p.topicAlias = 1; return p }())),
        .puback(PubAckPacket(packetID: 1)),
        .puback(PubAckPacket(packetID: 2, reasonCode: .noMatchingSubscribers)),
        .puback(PubAckPacket(packetID: 3, reasonCode: .quotaExceeded, properties: ackProps)),
        .pubrec(PubAckPacket(packetID: 4, reasonCode: .success, properties: ackProps)),
        .pubrel(PubAckPacket(packetID: 5, reasonCode: .packetIdentifierNotFound)),
        .pubcomp(PubAckPacket(packetID: 6)),
        .subscribe(SubscribePacket(packetID: 7, subscriptions: [
            Subscription("a/+/c", qos: .exactlyOnce, noLocal: true, retainAsPublished: true, retainHandling: .doNotSend),
            Subscription("$share/g/x/#", qos: .atMostOnce, retainHandling: .sendOnSubscribeIfNew),
        ], properties: subProps)),
        .suback(SubAckPacket(packetID: 7, reasonCodes: [.grantedQoS2, .notAuthorized], properties: ackProps)),
        .unsubscribe(UnsubscribePacket(packetID: 8, topicFilters: ["a/+/c", "#"], properties: { var p = MQTTProperties(); p.userProperties = [UserProperty("u", "v")]; return p }())),
        .unsuback(UnsubAckPacket(packetID: 8, reasonCodes: [.success, .noSubscriptionExisted], properties: ackProps)),
        .pingreq,
        .pingresp,
        .disconnect(DisconnectPacket()),
        .disconnect(DisconnectPacket(reasonCode: .disconnectWithWillMessage)),
        .disconnect(DisconnectPacket(reasonCode: .serverShuttingDown, properties: discProps)),
        .auth(AuthPacket()),
        .auth(AuthPacket(reasonCode: .continueAuthentication, properties: authProps)),
    ]
}

/// The 3.1.1 forms: no properties, return codes.
private func allPacketsV311() -> [MQTTPacket] {
    let will = WillMessage(topic: "status/gw", payload: ByteBuffer(string: "offline"), qos: .exactlyOnce, retain: false)
    return [
        .connect(ConnectPacket(protocolVersion: .v311, clientID: "gw-1", cleanStart: true, keepAlive: 60, username: "u",
                               password: Array("p".utf8), will: will)),
        .connect(ConnectPacket(protocolVersion: .v311, clientID: "gw-2", cleanStart: false, keepAlive: 10)),
        .connack(ConnAckPacket(sessionPresent: true, reasonCode: ReasonCode.V311.accepted)),
        .connack(ConnAckPacket(sessionPresent: false, reasonCode: ReasonCode.V311.badUserNameOrPassword)),
        .publish(PublishPacket(topic: "a/b", payload: ByteBuffer(string: "hello"), qos: .exactlyOnce, retain: true, dup: true, packetID: 9)),
        .publish(PublishPacket(topic: "a/b", payload: ByteBuffer(string: "q0"))),
        .puback(PubAckPacket(packetID: 1)),
        .pubrec(PubAckPacket(packetID: 2)),
        .pubrel(PubAckPacket(packetID: 3)),
        .pubcomp(PubAckPacket(packetID: 4)),
        .subscribe(SubscribePacket(packetID: 5, subscriptions: [Subscription("a/#", qos: .atLeastOnce), Subscription("b/+", qos: .exactlyOnce)])),
        .suback(SubAckPacket(packetID: 5, reasonCodes: [.grantedQoS1, .unspecifiedError])),
        .unsubscribe(UnsubscribePacket(packetID: 6, topicFilters: ["a/#"])),
        .unsuback(UnsubAckPacket(packetID: 6)),
        .pingreq,
        .pingresp,
        .disconnect(DisconnectPacket()),
    ]
}

@Suite struct CodecRoundTripTests {
    @Test(arguments: allPacketsV5())
    func roundTripV5(_ p: MQTTPacket) throws {
        #expect(try roundTrip(p, .v5) == p)
    }

    @Test(arguments: allPacketsV311())
    func roundTripV311(_ p: MQTTPacket) throws {
        #expect(try roundTrip(p, .v311) == p)
    }

    @Test func everyPacketTypeCovered() {
        #expect(Set(allPacketsV5().map(\.typeCode)) == Set(1...15))
        #expect(Set(allPacketsV311().map(\.typeCode)) == Set(1...14))
    }

    @Test func v311DropsProperties() throws {
        var props = MQTTProperties()
        props.contentType = "x"
        let p = MQTTPacket.publish(PublishPacket(topic: "t", payload: ByteBuffer(string: "p"), qos: .atLeastOnce, packetID: 1, properties: props))
        guard case .publish(let d) = try roundTrip(p, .v311) else { Issue.record("not a publish"); return }
        #expect(d.properties.isEmpty)
    }

    @Test func knownEncodings() throws {
        #expect(Array(try encode(.pingreq, .v5).readableBytesView) == [0xC0, 0x00])
        #expect(Array(try encode(.puback(PubAckPacket(packetID: 1)), .v311).readableBytesView) == [0x40, 0x02, 0x00, 0x01])
        #expect(Array(try encode(.puback(PubAckPacket(packetID: 1)), .v5).readableBytesView) == [0x40, 0x02, 0x00, 0x01])
        #expect(Array(try encode(.pubrel(PubAckPacket(packetID: 0x0102)), .v311).readableBytesView) == [0x62, 0x02, 0x01, 0x02])
        #expect(Array(try encode(.disconnect(DisconnectPacket()), .v5).readableBytesView) == [0xE0, 0x00])
        // CONNECT v3.1.1, client id "a", clean session, keep alive 60.
        let c = try encode(.connect(ConnectPacket(protocolVersion: .v311, clientID: "a", cleanStart: true, keepAlive: 60)), .v311)
        #expect(Array(c.readableBytesView) == [0x10, 13, 0, 4, 0x4D, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, 0, 1, 0x61])
        // CONNECT v5 has an (empty) property length byte.
        let c5 = try encode(.connect(ConnectPacket(protocolVersion: .v5, clientID: "a", cleanStart: true, keepAlive: 60)), .v5)
        #expect(Array(c5.readableBytesView) == [0x10, 14, 0, 4, 0x4D, 0x51, 0x54, 0x54, 5, 0x02, 0, 60, 0, 0, 1, 0x61])
    }

    @Test(arguments: [(0, [UInt8(0)]), (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
                      (2_097_151, [0xFF, 0xFF, 0x7F]), (2_097_152, [0x80, 0x80, 0x80, 0x01]), (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F])])
    func variableByteIntegers(value: Int, bytes: [UInt8]) {
        var b = ByteBuffer()
        b.writeMQTTVariableByteInteger(value)
        #expect(Array(b.readableBytesView) == bytes)
        #expect(b.readMQTTVariableByteInteger() == .value(value))
        #expect(variableByteIntegerSize(value) == bytes.count)
    }

    @Test func largePayloadRoundTrip() throws {
        let payload = ByteBuffer(repeating: 0xAB, count: 200_000)
        let p = MQTTPacket.publish(PublishPacket(topic: "big", payload: payload, qos: .atLeastOnce, packetID: 10))
        #expect(try roundTrip(p, .v5) == p)
    }

    @Test func incompleteInputWaitsForMoreBytes() throws {
        let full = try encode(.publish(PublishPacket(topic: "a/b", payload: ByteBuffer(string: "payload"), qos: .atLeastOnce, packetID: 3)), .v5)
        let bytes = Array(full.readableBytesView)
        var acc = ByteBuffer()
        var decoded: [MQTTPacket] = []
        for byte in bytes + bytes {  // two packets, fed one byte at a time
            acc.writeInteger(byte)
            while let p = try MQTTPacketCodec.decode(from: &acc, version: .v5) { decoded.append(p) }
        }
        #expect(decoded.count == 2)
        #expect(acc.readableBytes == 0)
    }

    @Test func encoderRefusesOversizedPacket() {
        let p = MQTTPacket.publish(PublishPacket(topic: "t", payload: ByteBuffer(repeating: 0, count: 100)))
        var b = ByteBuffer()
        #expect(throws: MQTTError.self) { try MQTTPacketCodec.encode(p, version: .v5, into: &b, maximumPacketSize: 50) }
    }

    @Test func encoderRefusesNulInString() {
        let p = MQTTPacket.publish(PublishPacket(topic: "a\u{0}b", payload: ByteBuffer()))
        var b = ByteBuffer()
        #expect(throws: MQTTError.self) { try MQTTPacketCodec.encode(p, version: .v5, into: &b) }
    }
}

@Suite struct MalformedPacketTests {
    @Test func remainingLengthLongerThanFourBytes() {
        #expect(decodeError([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) == .malformedPacket)
    }

    @Test func remainingLengthNotMinimal() {
        #expect(decodeError([0xC0, 0x80, 0x00]) == .malformedPacket)
    }

    @Test func remainingLengthTooShortForContent() {
        #expect(decodeError([0x40, 0x01, 0x00]) == .malformedPacket)           // PUBACK needs 2 bytes
        #expect(decodeError([0x20, 0x01, 0x00], .v311) == .malformedPacket)    // CONNACK needs 2 bytes
        #expect(decodeError(packet(0x32, str("a/b"))) == .malformedPacket)     // QoS 1 PUBLISH without packet id
    }

    @Test func trailingBytes() {
        #expect(decodeError([0xC0, 0x01, 0x00]) == .malformedPacket)
        #expect(decodeError([0x40, 0x03, 0x00, 0x01, 0x00], .v311) == .malformedPacket)
        #expect(decodeError([0xE0, 0x01, 0x00], .v311) == .malformedPacket)
    }

    @Test func truncatedProperties() {
        // PUBLISH QoS 0, topic "t", property length 5 but only a 2-byte property follows.
        #expect(decodeError(packet(0x30, str("t") + [0x05, 0x01, 0x01])) == .malformedPacket)
        // Property value cut short: message expiry (4 bytes) with 2 bytes.
        #expect(decodeError(packet(0x30, str("t") + [0x03, 0x02, 0x00, 0x00])) == .malformedPacket)
        // PUBACK with reason code and property length pointing past the end.
        #expect(decodeError(packet(0x40, [0x00, 0x01, 0x00, 0x09, 0x1F])) == .malformedPacket)
    }

    @Test func unknownPropertyIdentifier() {
        #expect(decodeError(packet(0x30, str("t") + [0x02, 0x7F, 0x00])) == .malformedPacket)
    }

    @Test func propertyNotValidForPacket() {
        // Session Expiry Interval (0x11) in a PUBLISH.
        #expect(decodeError(packet(0x30, str("t") + [0x05, 0x11, 0, 0, 0, 1])) == .malformedPacket)
    }

    @Test func duplicateProperty() {
        // Payload Format Indicator twice.
        #expect(decodeError(packet(0x30, str("t") + [0x04, 0x01, 0x00, 0x01, 0x01])) == .protocolError)
        // Receive Maximum twice in CONNACK.
        #expect(decodeError(packet(0x20, [0x00, 0x00, 0x06, 0x21, 0x00, 0x05, 0x21, 0x00, 0x06])) == .protocolError)
    }

    @Test func repeatablePropertiesAreAccepted() throws {
        var buf = ByteBuffer(bytes: packet(0x30, str("t") + [0x04, 0x0B, 0x01, 0x0B, 0x02]))
        let p = try MQTTPacketCodec.decode(from: &buf, version: .v5)
        guard case .publish(let pub)? = p else { Issue.record("no publish"); return }
        #expect(pub.properties.subscriptionIdentifiers == [1, 2])
    }

    @Test func invalidPropertyValues() {
        #expect(decodeError(packet(0x20, [0x00, 0x00, 0x03, 0x21, 0x00, 0x00])) == .protocolError)    // receive maximum 0
        #expect(decodeError(packet(0x20, [0x00, 0x00, 0x05, 0x27, 0, 0, 0, 0])) == .protocolError)    // maximum packet size 0
        #expect(decodeError(packet(0x30, str("t") + [0x02, 0x01, 0x02])) == .protocolError)            // payload format 2
        #expect(decodeError(packet(0x30, str("t") + [0x02, 0x0B, 0x00])) == .protocolError)            // subscription id 0
        #expect(decodeError(packet(0x30, str("t") + [0x03, 0x23, 0x00, 0x00])) == .topicAliasInvalid)  // topic alias 0
    }

    @Test(arguments: [
        [UInt8(0xC3), 0x28],         // invalid continuation
        [0xC0, 0xAF],                // overlong "/"
        [0xED, 0xA0, 0x80],          // UTF-16 surrogate
        [0xF4, 0x90, 0x80, 0x80],    // above U+10FFFF
        [0x61, 0xE2, 0x82],          // truncated sequence
        [0x61, 0x00, 0x62],          // U+0000
    ])
    func invalidUTF8InTopic(_ topic: [UInt8]) {
        let body = [UInt8(0), UInt8(topic.count)] + topic + [0x00]
        #expect(decodeError(packet(0x30, body)) == .malformedPacket)
        #expect(decodeError(packet(0x30, Array(body.dropLast())), .v311) == .malformedPacket)
    }

    @Test func invalidUTF8InUserProperty() {
        #expect(decodeError(packet(0x30, str("t") + [0x07, 0x26, 0x00, 0x01, 0xFF, 0x00, 0x01, 0x61])) == .malformedPacket)
    }

    @Test func reservedFixedHeaderFlags() {
        #expect(decodeError([0x41, 0x02, 0x00, 0x01]) == .malformedPacket)  // PUBACK flags 1
        #expect(decodeError([0x60, 0x02, 0x00, 0x01]) == .malformedPacket)  // PUBREL flags must be 2
        #expect(decodeError(packet(0x80, [0x00, 0x01, 0x00] + str("a") + [0x01])) == .malformedPacket)  // SUBSCRIBE flags must be 2
        #expect(decodeError([0xC8, 0x00]) == .malformedPacket)              // PINGREQ flags
        #expect(decodeError([0xE2, 0x00]) == .malformedPacket)              // DISCONNECT flags
        #expect(decodeError([0x00, 0x00]) == .malformedPacket)              // reserved type 0
        #expect(decodeError([0xF0, 0x00], .v311) == .malformedPacket)       // AUTH does not exist in 3.1.1
    }

    @Test func publishFlagRules() {
        #expect(decodeError(packet(0x36, str("t") + [0x00, 0x01, 0x00])) == .malformedPacket)  // QoS 3
        #expect(decodeError(packet(0x38, str("t") + [0x00])) == .malformedPacket)              // DUP on QoS 0
        #expect(decodeError(packet(0x32, str("t") + [0x00, 0x00, 0x00])) == .protocolError)    // packet id 0
        #expect(decodeError(packet(0x30, str("a/+") + [0x00])) == .topicNameInvalid)           // wildcard
        #expect(decodeError(packet(0x30, str("") + [0x00])) == .protocolError)                 // empty topic, no alias
    }

    @Test func connectRules() {
        let base: [UInt8] = str("MQTT") + [0x05]
        #expect(decodeError(packet(0x10, base + [0x03, 0x00, 0x3C, 0x00] + str("c"))) == .malformedPacket)  // reserved flag
        #expect(decodeError(packet(0x10, base + [0x18, 0x00, 0x3C, 0x00] + str("c"))) == .malformedPacket)  // will QoS 3
        #expect(decodeError(packet(0x10, base + [0x20, 0x00, 0x3C, 0x00] + str("c"))) == .malformedPacket)  // will retain w/o will
        #expect(decodeError(packet(0x10, str("MQTT") + [0x03, 0x02, 0x00, 0x3C] + str("c"))) == .unsupportedProtocolVersion)
        #expect(decodeError(packet(0x10, str("MQIsdp") + [0x03, 0x02, 0x00, 0x3C] + str("c"))) == .unsupportedProtocolVersion)
        // 3.1.1: password without user name.
        #expect(decodeError(packet(0x10, str("MQTT") + [0x04, 0x42, 0x00, 0x3C] + str("c") + str("pw"))) == .malformedPacket)
    }

    @Test func subscribeRules() {
        #expect(decodeError(packet(0x82, [0x00, 0x01, 0x00])) == .protocolError)                            // no filters
        #expect(decodeError(packet(0x82, [0x00, 0x01, 0x00] + str("a") + [0xC1])) == .malformedPacket)       // reserved option bits
        #expect(decodeError(packet(0x82, [0x00, 0x01, 0x00] + str("a") + [0x03])) == .malformedPacket)       // QoS 3
        #expect(decodeError(packet(0x82, [0x00, 0x01, 0x00] + str("a") + [0x30])) == .protocolError)        // retain handling 3
        #expect(decodeError(packet(0x82, [0x00, 0x01, 0x00] + str("a/#/b") + [0x01])) == .malformedPacket)   // bad filter
        #expect(decodeError(packet(0x82, [0x00, 0x01, 0x00] + str("$share/g/a") + [0x05])) == .protocolError) // no local on shared
        #expect(decodeError(packet(0x82, [0x00, 0x01] + str("a") + [0x04]), .v311) == .malformedPacket)      // 3.1.1 reserved bits
        #expect(decodeError(packet(0xA2, [0x00, 0x01, 0x00])) == .protocolError)                            // UNSUBSCRIBE, no filters
    }

    @Test func returnCodeRules() {
        #expect(decodeError([0x20, 0x02, 0x00, 0x06], .v311) == .protocolError)          // CONNACK return code 6
        #expect(decodeError([0x20, 0x02, 0x02, 0x00], .v311) == .malformedPacket)        // reserved ack flags
        #expect(decodeError(packet(0x20, [0x01, 0x87, 0x00])) == .protocolError)        // session present + failure
        #expect(decodeError([0x90, 0x03, 0x00, 0x01, 0x03], .v311) == .protocolError)    // SUBACK return code 3
        #expect(decodeError([0xF0, 0x02, 0x05, 0x00]) == .protocolError)                 // AUTH reason 5
        #expect(decodeError([0x40, 0x02, 0x00, 0x00]) == .protocolError)                 // packet id 0
    }

    @Test func packetTooLarge() {
        // Detected from the fixed header alone, before the body arrives.
        #expect(decodeError([0x30, 0xE8, 0x07], max: 100) == .packetTooLarge)
        #expect(decodeError(packet(0x30, str("t") + [0x00] + Array(repeating: 1, count: 200)), max: 100) == .packetTooLarge)
    }

    @Test func randomInputNeverTraps() {
        var rng = SystemRandomNumberGenerator()
        for i in 0..<3000 {
            let count = Int.random(in: 0...40, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if count > 1 { bytes[1] = UInt8(min(count - 2, 127)) }  // plausible remaining length
            let version: MQTTProtocolVersion = i % 2 == 0 ? .v5 : .v311
            var buf = ByteBuffer(bytes: bytes)
            do {
                while let _ = try MQTTPacketCodec.decode(from: &buf, version: version) {}
            } catch is MQTTDecodeError {
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}

@Suite struct TopicTests {
    @Test(arguments: [
        ("a/b/c", "a/b/c", true), ("a/+/c", "a/b/c", true), ("a/+/c", "a/b/d", false), ("a/#", "a/b/c", true),
        ("a/#", "a", true), ("#", "a/b", true), ("+", "a", true), ("+", "a/b", false), ("+/+", "/b", true),
        ("a/b", "a/b/c", false), ("a/b/c", "a/b", false), ("#", "$SYS/x", false), ("+/x", "$SYS/x", false),
        ("$SYS/#", "$SYS/broker/load", true), ("$share/g/a/+", "a/b", true), ("$share/g/a/+", "b/b", false),
        ("sport/tennis/+", "sport/tennis/", true), ("a/+", "a", false), ("", "a", false), ("a/#/b", "a/x/b", false),
    ])
    func matching(filter: String, topic: String, expected: Bool) {
        #expect(MQTTTopic.matches(filter: filter, topic: topic) == expected)
    }

    /// The parsed filter gives the answer of the rule as written (split both into levels and
    /// walk them), on every combination of short filters and topics over a few level names.
    @Test func parsedFilterAgreesWithTheLevelByLevelRule() {
        func rule(_ filter: String, _ topic: String) -> Bool {
            guard MQTTTopic.isValidFilter(filter), !topic.isEmpty, MQTTTopic.isValidTopicName(topic) else { return false }
            let f = (MQTTTopic.parseSharedSubscription(filter)?.filter ?? filter).split(separator: "/", omittingEmptySubsequences: false)
            let t = topic.split(separator: "/", omittingEmptySubsequences: false)
            if topic.hasPrefix("$"), f[0] == "+" || f[0] == "#" { return false }
            for (i, level) in f.enumerated() {
                if level == "#" { return true }
                guard i < t.count, level == "+" || level == t[i] else { return false }
            }
            return f.count == t.count
        }
        let filterLevels = ["a", "b", "+", "#", "", "$SYS", "ü"]
        let topicLevels = ["a", "b", "", "$SYS", "ü", "ab"]
        func paths(_ levels: [String], upTo depth: Int) -> [String] {
            var all: [[String]] = [[]]
            var frontier: [[String]] = [[]]
            for _ in 0..<depth {
                frontier = frontier.flatMap { p in levels.map { p + [$0] } }
                all += frontier
            }
            return all.map { $0.joined(separator: "/") }
        }
        let filters = paths(filterLevels, upTo: 3) + ["$share/g/a/+", "$share/g/#", "$share//a"]
        let topics = paths(topicLevels, upTo: 3) + ["a/+", "a/#"]
        var compared = 0
        for filter in filters {
            let parsed = MQTTTopicFilter(filter)
            #expect((parsed != nil) == MQTTTopic.isValidFilter(filter), "\(filter)")
            for topic in topics {
                #expect((parsed?.matches(topic) ?? false) == rule(filter, topic), "\(filter) ~ \(topic)")
                compared += 1
            }
        }
        #expect(compared > 50_000)
    }

    @Test func filterValidation() {
        for valid in ["#", "+", "a/+/b", "a/#", "/", "+/+/#", "$share/group/a/#", "$SYS/#"] {
            #expect(MQTTTopic.isValidFilter(valid), "\(valid)")
        }
        for invalid in ["", "a/#/b", "a#", "a/b+", "$share/g", "$share//a", "$share/g+/a", "$share/g/"] {
            #expect(!MQTTTopic.isValidFilter(invalid), "\(invalid)")
        }
        #expect(MQTTTopic.parseSharedSubscription("$share/workers/vision/+/det")! == ("workers", "vision/+/det"))
    }
}

@Suite struct BrokerAddressTests {
    @Test func parsesSchemesHostsAndPorts() throws {
        #expect(try MQTTBrokerAddress(parsing: "mqtt://127.0.0.1:1883") == MQTTBrokerAddress(host: "127.0.0.1", port: 1883, useTLS: false))
        #expect(try MQTTBrokerAddress(parsing: "mqtt://broker.plant") == MQTTBrokerAddress(host: "broker.plant", port: 1883, useTLS: false))
        #expect(try MQTTBrokerAddress(parsing: "mqtts://broker.plant") == MQTTBrokerAddress(host: "broker.plant", port: 8883, useTLS: true))
        #expect(try MQTTBrokerAddress(parsing: "MQTTS://b:9999/") == MQTTBrokerAddress(host: "b", port: 9999, useTLS: true))
        #expect(try MQTTBrokerAddress(parsing: "tcp://[::1]:1884") == MQTTBrokerAddress(host: "::1", port: 1884, useTLS: false))
        #expect(try MQTTBrokerAddress(parsing: "ssl://[fe80::1]") == MQTTBrokerAddress(host: "fe80::1", port: 8883, useTLS: true))
    }

    @Test(arguments: ["127.0.0.1:1883", "http://b", "mqtt://", "mqtt://b:0", "mqtt://b:70000", "mqtt://b:x", "mqtt://u:p@b", "mqtt://b/topic", "mqtt://[::1"])
    func rejectsInvalid(_ url: String) {
        #expect(throws: MQTTBrokerAddress.ParseError.self) { try MQTTBrokerAddress(parsing: url) }
    }
}
