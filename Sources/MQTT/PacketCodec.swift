import NIOCore

/// Pure encode/decode of MQTT control packets on `ByteBuffer`.
///
/// Decoding never traps: every malformed input yields an ``MQTTDecodeError`` carrying the
/// MQTT 5 reason code the receiver should use to close the connection.
public enum MQTTPacketCodec {
    /// Decodes one complete packet from the front of `buffer`.
    ///
    /// - Returns: `nil` (and leaves `buffer` untouched) when more bytes are needed.
    /// - Throws: ``MQTTDecodeError`` — 0x95 Packet too large as soon as the fixed header shows the
    ///   packet exceeds `maximumPacketSize`; 0x81/0x82 for malformed content.
    public static func decode(from buffer: inout ByteBuffer, version: MQTTProtocolVersion,
                              maximumPacketSize: Int = mqttMaxVariableByteInteger + 5) throws -> MQTTPacket? {
        var peek = buffer
        guard let first = peek.readInteger(as: UInt8.self) else { return nil }
        let remaining: Int
        switch peek.readMQTTVariableByteInteger() {
        case .needMoreData: return nil
        case .malformed: throw MQTTDecodeError.malformed("invalid remaining length")
        case .value(let v): remaining = v
        }
        let headerSize = 1 + variableByteIntegerSize(remaining)
        if headerSize + remaining > maximumPacketSize {
            throw MQTTDecodeError(.packetTooLarge, "packet of \(headerSize + remaining) bytes exceeds maximum \(maximumPacketSize)")
        }
        guard let body = peek.readSlice(length: remaining) else { return nil }
        let packet = try decodePacket(typeAndFlags: first, body: body, version: version)
        buffer.moveReaderIndex(forwardBy: headerSize + remaining)
        return packet
    }

    /// Decodes a packet from its first byte and exactly its variable header + payload.
    public static func decodePacket(typeAndFlags: UInt8, body: ByteBuffer, version: MQTTProtocolVersion) throws -> MQTTPacket {
        let type = typeAndFlags >> 4
        let flags = typeAndFlags & 0x0F
        var r = PacketReader(body)
        let v5 = version == .v5

        func requireFlags(_ expected: UInt8, _ name: String) throws {
            guard flags == expected else { throw MQTTDecodeError.malformed("reserved flags of \(name) must be \(expected), got \(flags)") }
        }
        func requireEnd(_ name: String) throws {
            guard r.isAtEnd else { throw MQTTDecodeError.malformed("\(r.readableBytes) unexpected trailing bytes in \(name)") }
        }
        func packetID(_ name: String) throws -> UInt16 {
            let id = try r.readUInt16("\(name) packet identifier")
            guard id != 0 else { throw MQTTDecodeError.protocolError("\(name) packet identifier 0") }
            return id
        }
        func ackLike(_ name: String) throws -> PubAckPacket {
            let id = try packetID(name)
            guard v5 else {
                try requireEnd(name)
                return PubAckPacket(packetID: id)
            }
            var reason = ReasonCode.success
            var props = MQTTProperties()
            if !r.isAtEnd { reason = ReasonCode(try r.readByte("\(name) reason code")) }
            if !r.isAtEnd { props = try MQTTProperties.decode(from: &r, context: .pubAck) }
            try requireEnd(name)
            return PubAckPacket(packetID: id, reasonCode: reason, properties: props)
        }

        switch type {
        case 1:
            try requireFlags(0, "CONNECT")
            return .connect(try decodeConnect(&r))
        case 2:
            try requireFlags(0, "CONNACK")
            let ackFlags = try r.readByte("connect acknowledge flags")
            guard ackFlags & 0xFE == 0 else { throw MQTTDecodeError.malformed("reserved CONNACK flags set") }
            let reason = ReasonCode(try r.readByte("CONNACK reason code"))
            var props = MQTTProperties()
            if v5 {
                props = try MQTTProperties.decode(from: &r, context: .connack)
            } else if reason.rawValue > 5 {
                throw MQTTDecodeError.protocolError("invalid 3.1.1 CONNACK return code \(reason)")
            }
            try requireEnd("CONNACK")
            if ackFlags & 1 == 1 && reason != .success {
                throw MQTTDecodeError.protocolError("session present with a failure reason code")
            }
            return .connack(ConnAckPacket(sessionPresent: ackFlags & 1 == 1, reasonCode: reason, properties: props))
        case 3:
            return .publish(try decodePublish(flags: flags, &r, v5: v5))
        case 4:
            try requireFlags(0, "PUBACK")
            return .puback(try ackLike("PUBACK"))
        case 5:
            try requireFlags(0, "PUBREC")
            return .pubrec(try ackLike("PUBREC"))
        case 6:
            try requireFlags(2, "PUBREL")
            return .pubrel(try ackLike("PUBREL"))
        case 7:
            try requireFlags(0, "PUBCOMP")
            return .pubcomp(try ackLike("PUBCOMP"))
        case 8:
            try requireFlags(2, "SUBSCRIBE")
            let id = try packetID("SUBSCRIBE")
            let props = v5 ? try MQTTProperties.decode(from: &r, context: .subscribe) : MQTTProperties()
            var subs: [Subscription] = []
            while !r.isAtEnd {
                let filter = try r.readString("topic filter")
                guard MQTTTopic.isValidFilter(filter) else { throw MQTTDecodeError.malformed("invalid topic filter '\(filter)'") }
                let options = try r.readByte("subscription options")
                guard options & (v5 ? 0xC0 : 0xFC) == 0 else { throw MQTTDecodeError.malformed("reserved subscription option bits set") }
                guard let qos = QoS(rawValue: options & 0x03) else { throw MQTTDecodeError.malformed("subscription QoS 3") }
                guard let rh = RetainHandling(rawValue: (options >> 4) & 0x03) else {
                    throw MQTTDecodeError.protocolError("retain handling 3")
                }
                let sub = Subscription(filter, qos: qos, noLocal: options & 0x04 != 0, retainAsPublished: options & 0x08 != 0, retainHandling: rh)
                if sub.noLocal && MQTTTopic.isSharedSubscription(filter) {
                    throw MQTTDecodeError.protocolError("no local on a shared subscription")
                }
                subs.append(sub)
            }
            guard !subs.isEmpty else { throw MQTTDecodeError.protocolError("SUBSCRIBE without topic filters") }
            return .subscribe(SubscribePacket(packetID: id, subscriptions: subs, properties: props))
        case 9:
            try requireFlags(0, "SUBACK")
            let id = try packetID("SUBACK")
            let props = v5 ? try MQTTProperties.decode(from: &r, context: .suback) : MQTTProperties()
            var codes: [ReasonCode] = []
            while !r.isAtEnd {
                let code = ReasonCode(try r.readByte("SUBACK reason code"))
                if !v5 && !(code.rawValue <= 2 || code.rawValue == 0x80) {
                    throw MQTTDecodeError.protocolError("invalid 3.1.1 SUBACK return code \(code)")
                }
                codes.append(code)
            }
            return .suback(SubAckPacket(packetID: id, reasonCodes: codes, properties: props))
        case 10:
            try requireFlags(2, "UNSUBSCRIBE")
            let id = try packetID("UNSUBSCRIBE")
            let props = v5 ? try MQTTProperties.decode(from: &r, context: .unsubscribe) : MQTTProperties()
            var filters: [String] = []
            while !r.isAtEnd {
                let filter = try r.readString("topic filter")
                guard MQTTTopic.isValidFilter(filter) else { throw MQTTDecodeError.malformed("invalid topic filter '\(filter)'") }
                filters.append(filter)
            }
            guard !filters.isEmpty else { throw MQTTDecodeError.protocolError("UNSUBSCRIBE without topic filters") }
            return .unsubscribe(UnsubscribePacket(packetID: id, topicFilters: filters, properties: props))
        case 11:
            try requireFlags(0, "UNSUBACK")
            let id = try packetID("UNSUBACK")
            guard v5 else {
                try requireEnd("UNSUBACK")
                return .unsuback(UnsubAckPacket(packetID: id))
            }
            let props = try MQTTProperties.decode(from: &r, context: .unsuback)
            var codes: [ReasonCode] = []
            while !r.isAtEnd { codes.append(ReasonCode(try r.readByte("UNSUBACK reason code"))) }
            return .unsuback(UnsubAckPacket(packetID: id, reasonCodes: codes, properties: props))
        case 12:
            try requireFlags(0, "PINGREQ")
            try requireEnd("PINGREQ")
            return .pingreq
        case 13:
            try requireFlags(0, "PINGRESP")
            try requireEnd("PINGRESP")
            return .pingresp
        case 14:
            try requireFlags(0, "DISCONNECT")
            guard v5 else {
                try requireEnd("DISCONNECT")
                return .disconnect(DisconnectPacket())
            }
            var reason = ReasonCode.normalDisconnection
            var props = MQTTProperties()
            if !r.isAtEnd { reason = ReasonCode(try r.readByte("DISCONNECT reason code")) }
            if !r.isAtEnd { props = try MQTTProperties.decode(from: &r, context: .disconnect) }
            try requireEnd("DISCONNECT")
            return .disconnect(DisconnectPacket(reasonCode: reason, properties: props))
        case 15:
            guard v5 else { throw MQTTDecodeError.malformed("AUTH is not an MQTT 3.1.1 packet") }
            try requireFlags(0, "AUTH")
            var reason = ReasonCode.success
            var props = MQTTProperties()
            if !r.isAtEnd { reason = ReasonCode(try r.readByte("AUTH reason code")) }
            if !r.isAtEnd { props = try MQTTProperties.decode(from: &r, context: .auth) }
            try requireEnd("AUTH")
            guard [0x00, 0x18, 0x19].contains(reason.rawValue) else { throw MQTTDecodeError.protocolError("invalid AUTH reason code \(reason)") }
            return .auth(AuthPacket(reasonCode: reason, properties: props))
        default:
            throw MQTTDecodeError.malformed("reserved packet type 0")
        }
    }

    private static func decodeConnect(_ r: inout PacketReader) throws -> ConnectPacket {
        let name = try r.readString("protocol name")
        let level = try r.readByte("protocol level")
        guard name == "MQTT" else {
            throw MQTTDecodeError(.unsupportedProtocolVersion, "unsupported protocol name '\(name)'")
        }
        guard let version = MQTTProtocolVersion(rawValue: level) else {
            throw MQTTDecodeError(.unsupportedProtocolVersion, "unsupported protocol level \(level)")
        }
        let v5 = version == .v5
        let flags = try r.readByte("connect flags")
        guard flags & 0x01 == 0 else { throw MQTTDecodeError.malformed("reserved connect flag set") }
        let hasUser = flags & 0x80 != 0
        let hasPassword = flags & 0x40 != 0
        let willRetain = flags & 0x20 != 0
        let willQoSRaw = (flags >> 3) & 0x03
        let hasWill = flags & 0x04 != 0
        let cleanStart = flags & 0x02 != 0
        guard let willQoS = QoS(rawValue: willQoSRaw) else { throw MQTTDecodeError.malformed("will QoS 3") }
        if !hasWill && (willQoSRaw != 0 || willRetain) {
            throw MQTTDecodeError.malformed("will QoS/retain set without will flag")
        }
        if !v5 && hasPassword && !hasUser {
            throw MQTTDecodeError.malformed("password flag without user name flag")
        }
        let keepAlive = try r.readUInt16("keep alive")
        let props = v5 ? try MQTTProperties.decode(from: &r, context: .connect) : MQTTProperties()
        let clientID = try r.readString("client identifier")
        var will: WillMessage?
        if hasWill {
            let willProps = v5 ? try MQTTProperties.decode(from: &r, context: .will) : MQTTProperties()
            let topic = try r.readString("will topic")
            guard MQTTTopic.isValidTopicName(topic), !topic.isEmpty else { throw MQTTDecodeError(.topicNameInvalid, "invalid will topic") }
            let payload = try r.readBinary("will payload")
            will = WillMessage(topic: topic, payload: ByteBuffer(bytes: payload), qos: willQoS, retain: willRetain, properties: willProps)
        }
        let username = hasUser ? try r.readString("user name") : nil
        let password = hasPassword ? try r.readBinary("password") : nil
        guard r.isAtEnd else { throw MQTTDecodeError.malformed("unexpected trailing bytes in CONNECT") }
        return ConnectPacket(protocolVersion: version, clientID: clientID, cleanStart: cleanStart, keepAlive: keepAlive,
                             username: username, password: password, will: will, properties: props)
    }

    private static func decodePublish(flags: UInt8, _ r: inout PacketReader, v5: Bool) throws -> PublishPacket {
        guard let qos = QoS(rawValue: (flags >> 1) & 0x03) else { throw MQTTDecodeError.malformed("PUBLISH QoS 3") }
        let dup = flags & 0x08 != 0
        let retain = flags & 0x01 != 0
        if dup && qos == .atMostOnce { throw MQTTDecodeError.malformed("DUP set on a QoS 0 PUBLISH") }
        let topic = try r.readString("topic name")
        guard MQTTTopic.isValidTopicName(topic) else { throw MQTTDecodeError(.topicNameInvalid, "wildcard in topic name '\(topic)'") }
        var packetID: UInt16?
        if qos != .atMostOnce {
            let id = try r.readUInt16("PUBLISH packet identifier")
            guard id != 0 else { throw MQTTDecodeError.protocolError("PUBLISH packet identifier 0") }
            packetID = id
        }
        let props = v5 ? try MQTTProperties.decode(from: &r, context: .publish) : MQTTProperties()
        if topic.isEmpty && props.topicAlias == nil {
            throw MQTTDecodeError.protocolError("empty topic name without topic alias")
        }
        let payload = r.readRemaining()
        return PublishPacket(topic: topic, payload: payload, qos: qos, retain: retain, dup: dup, packetID: packetID, properties: props)
    }

    // MARK: - Encoding

    /// Encodes `packet` (fixed header included) into `buffer`.
    ///
    /// - Throws: ``MQTTError/invalidRequest(_:_:)`` when the packet cannot be represented (string
    ///   too long, U+0000 in a string, packet larger than `maximumPacketSize` → 0x95).
    public static func encode(_ packet: MQTTPacket, version: MQTTProtocolVersion, into buffer: inout ByteBuffer,
                              maximumPacketSize: Int = mqttMaxVariableByteInteger + 5) throws {
        var body = ByteBuffer()
        var flags: UInt8 = 0
        let v5 = version == .v5

        func ackLike(_ p: PubAckPacket) throws {
            body.writeInteger(p.packetID, endianness: .big)
            guard v5 else { return }
            if p.reasonCode == .success && p.properties.isEmpty { return }
            body.writeInteger(p.reasonCode.rawValue)
            if !p.properties.isEmpty { try p.properties.encode(into: &body, context: .pubAck) }
        }

        switch packet {
        case .connect(let c):
            try encodeConnect(c, into: &body)
        case .connack(let c):
            body.writeInteger(UInt8(c.sessionPresent ? 1 : 0))
            body.writeInteger(c.reasonCode.rawValue)
            if v5 { try c.properties.encode(into: &body, context: .connack) }
        case .publish(let p):
            flags = (p.dup ? 0x08 : 0) | (p.qos.rawValue << 1) | (p.retain ? 1 : 0)
            try body.writeMQTTString(p.topic, "topic name")
            if p.qos != .atMostOnce {
                guard let id = p.packetID, id != 0 else { throw MQTTError.invalidRequest(.protocolError, "QoS > 0 PUBLISH without packet identifier") }
                body.writeInteger(id, endianness: .big)
            }
            if v5 { try p.properties.encode(into: &body, context: .publish) }
            var payload = p.payload
            body.writeBuffer(&payload)
        case .puback(let p): try ackLike(p)
        case .pubrec(let p): try ackLike(p)
        case .pubrel(let p):
            flags = 2
            try ackLike(p)
        case .pubcomp(let p): try ackLike(p)
        case .subscribe(let s):
            flags = 2
            body.writeInteger(s.packetID, endianness: .big)
            if v5 { try s.properties.encode(into: &body, context: .subscribe) }
            for sub in s.subscriptions {
                try body.writeMQTTString(sub.topicFilter, "topic filter")
                var options = sub.qos.rawValue
                if v5 {
                    if sub.noLocal { options |= 0x04 }
                    if sub.retainAsPublished { options |= 0x08 }
                    options |= sub.retainHandling.rawValue << 4
                }
                body.writeInteger(options)
            }
        case .suback(let s):
            body.writeInteger(s.packetID, endianness: .big)
            if v5 { try s.properties.encode(into: &body, context: .suback) }
            for code in s.reasonCodes { body.writeInteger(code.rawValue) }
        case .unsubscribe(let u):
            flags = 2
            body.writeInteger(u.packetID, endianness: .big)
            if v5 { try u.properties.encode(into: &body, context: .unsubscribe) }
            for f in u.topicFilters { try body.writeMQTTString(f, "topic filter") }
        case .unsuback(let u):
            body.writeInteger(u.packetID, endianness: .big)
            if v5 {
                try u.properties.encode(into: &body, context: .unsuback)
                for code in u.reasonCodes { body.writeInteger(code.rawValue) }
            }
        case .pingreq, .pingresp:
            break
        case .disconnect(let d):
            if v5 && !(d.reasonCode == .normalDisconnection && d.properties.isEmpty) {
                body.writeInteger(d.reasonCode.rawValue)
                if !d.properties.isEmpty { try d.properties.encode(into: &body, context: .disconnect) }
            }
        case .auth(let a):
            guard v5 else { throw MQTTError.invalidRequest(.protocolError, "AUTH does not exist in MQTT 3.1.1") }
            if !(a.reasonCode == .success && a.properties.isEmpty) {
                body.writeInteger(a.reasonCode.rawValue)
                try a.properties.encode(into: &body, context: .auth)
            }
        }
        let remaining = body.readableBytes
        guard remaining <= mqttMaxVariableByteInteger else {
            throw MQTTError.invalidRequest(.packetTooLarge, "remaining length \(remaining) exceeds the protocol maximum")
        }
        let total = 1 + variableByteIntegerSize(remaining) + remaining
        guard total <= maximumPacketSize else {
            throw MQTTError.invalidRequest(.packetTooLarge, "packet of \(total) bytes exceeds the maximum packet size \(maximumPacketSize)")
        }
        buffer.reserveCapacity(minimumWritableBytes: total)
        buffer.writeInteger(packet.typeCode << 4 | flags)
        buffer.writeMQTTVariableByteInteger(remaining)
        buffer.writeBuffer(&body)
    }

    /// Size in bytes of the encoded packet.
    public static func encodedSize(_ packet: MQTTPacket, version: MQTTProtocolVersion) throws -> Int {
        var b = ByteBuffer()
        try encode(packet, version: version, into: &b)
        return b.readableBytes
    }

    private static func encodeConnect(_ c: ConnectPacket, into body: inout ByteBuffer) throws {
        let v5 = c.protocolVersion == .v5
        try body.writeMQTTString("MQTT")
        body.writeInteger(c.protocolVersion.rawValue)
        var flags: UInt8 = 0
        if c.username != nil { flags |= 0x80 }
        if c.password != nil {
            guard v5 || c.username != nil else { throw MQTTError.invalidRequest(.protocolError, "MQTT 3.1.1 requires a user name with a password") }
            flags |= 0x40
        }
        if let w = c.will {
            flags |= 0x04 | (w.qos.rawValue << 3) | (w.retain ? 0x20 : 0)
        }
        if c.cleanStart { flags |= 0x02 }
        body.writeInteger(flags)
        body.writeInteger(c.keepAlive, endianness: .big)
        if v5 { try c.properties.encode(into: &body, context: .connect) }
        try body.writeMQTTString(c.clientID, "client identifier")
        if let w = c.will {
            if v5 { try w.properties.encode(into: &body, context: .will) }
            try body.writeMQTTString(w.topic, "will topic")
            try body.writeMQTTBinary(Array(w.payload.readableBytesView), "will payload")
        }
        if let u = c.username { try body.writeMQTTString(u, "user name") }
        if let p = c.password { try body.writeMQTTBinary(p, "password") }
    }
}
