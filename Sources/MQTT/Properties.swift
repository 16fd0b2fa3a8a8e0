import NIOCore

/// Which packet (or the will) a property block belongs to; decides which identifiers are valid.
public enum PropertyContext: Sendable, Hashable {
    case connect, connack, publish, will, pubAck, subscribe, suback, unsubscribe, unsuback, disconnect, auth
}

/// An MQTT 5 user property (name/value pair; may repeat, order preserved).
public struct UserProperty: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The MQTT 5 properties of a packet. Only fields valid for the packet type are encoded;
/// decoding rejects identifiers that are not valid for the packet (Malformed Packet) and
/// duplicates of single-valued properties (Protocol Error).
public struct MQTTProperties: Hashable, Sendable {
    public var payloadFormatIndicator: UInt8?          // 0x01
    public var messageExpiryInterval: UInt32?          // 0x02
    public var contentType: String?                    // 0x03
    public var responseTopic: String?                  // 0x08
    public var correlationData: [UInt8]?               // 0x09
    public var subscriptionIdentifiers: [Int] = []     // 0x0B (repeatable in PUBLISH)
    public var sessionExpiryInterval: UInt32?          // 0x11
    public var assignedClientIdentifier: String?       // 0x12
    public var serverKeepAlive: UInt16?                // 0x13
    public var authenticationMethod: String?           // 0x15
    public var authenticationData: [UInt8]?            // 0x16
    public var requestProblemInformation: UInt8?       // 0x17
    public var willDelayInterval: UInt32?              // 0x18
    public var requestResponseInformation: UInt8?      // 0x19
    public var responseInformation: String?            // 0x1A
    public var serverReference: String?                // 0x1C
    public var reasonString: String?                   // 0x1F
    public var receiveMaximum: UInt16?                 // 0x21
    public var topicAliasMaximum: UInt16?              // 0x22
    public var topicAlias: UInt16?                     // 0x23
    public var maximumQoS: UInt8?                      // 0x24
    public var retainAvailable: UInt8?                 // 0x25
    public var userProperties: [UserProperty] = []     // 0x26
    public var maximumPacketSize: UInt32?              // 0x27
    public var wildcardSubscriptionAvailable: UInt8?   // 0x28
    public var subscriptionIdentifierAvailable: UInt8? // 0x29
    public var sharedSubscriptionAvailable: UInt8?     // 0x2A

    public init() {}

    public var isEmpty: Bool { self == MQTTProperties() }
}

enum PropertyID: UInt8 {
    case payloadFormatIndicator = 0x01, messageExpiryInterval = 0x02, contentType = 0x03
    case responseTopic = 0x08, correlationData = 0x09, subscriptionIdentifier = 0x0B
    case sessionExpiryInterval = 0x11, assignedClientIdentifier = 0x12, serverKeepAlive = 0x13
    case authenticationMethod = 0x15, authenticationData = 0x16, requestProblemInformation = 0x17
    case willDelayInterval = 0x18, requestResponseInformation = 0x19, responseInformation = 0x1A
    case serverReference = 0x1C, reasonString = 0x1F, receiveMaximum = 0x21, topicAliasMaximum = 0x22
    case topicAlias = 0x23, maximumQoS = 0x24, retainAvailable = 0x25, userProperty = 0x26
    case maximumPacketSize = 0x27, wildcardSubscriptionAvailable = 0x28
    case subscriptionIdentifierAvailable = 0x29, sharedSubscriptionAvailable = 0x2A

    /// Table 2-4 of the MQTT 5 specification.
    func isValid(in context: PropertyContext) -> Bool {
        switch self {
        case .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData:
            return context == .publish || context == .will
        case .subscriptionIdentifier: return context == .publish || context == .subscribe
        case .sessionExpiryInterval: return [.connect, .connack, .disconnect].contains(context)
        case .assignedClientIdentifier, .serverKeepAlive, .responseInformation, .maximumQoS, .retainAvailable,
             .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable, .sharedSubscriptionAvailable:
            return context == .connack
        case .authenticationMethod, .authenticationData: return [.connect, .connack, .auth].contains(context)
        case .requestProblemInformation, .requestResponseInformation: return context == .connect
        case .willDelayInterval: return context == .will
        case .serverReference: return context == .connack || context == .disconnect
        case .reasonString: return ![.connect, .publish, .will, .subscribe, .unsubscribe].contains(context)
        case .receiveMaximum, .topicAliasMaximum, .maximumPacketSize: return context == .connect || context == .connack
        case .topicAlias: return context == .publish
        case .userProperty: return true
        }
    }
}

extension MQTTProperties {
    /// Decodes a property block (length VBI + properties).
    static func decode(from reader: inout PacketReader, context: PropertyContext) throws -> MQTTProperties {
        let length = try reader.readVariableByteInteger("property length")
        var sub = try reader.readSlice(length: length, "property length")
        var p = MQTTProperties()
        var seen = Set<UInt8>()
        while !sub.isAtEnd {
            let rawID = try sub.readVariableByteInteger("property identifier")
            guard rawID <= 0xFF, let id = PropertyID(rawValue: UInt8(rawID)) else {
                throw MQTTDecodeError.malformed("unknown property identifier 0x\(String(rawID, radix: 16))")
            }
            guard id.isValid(in: context) else {
                throw MQTTDecodeError.malformed("property 0x\(String(id.rawValue, radix: 16)) not valid in \(context)")
            }
            let repeatable = id == .userProperty || (id == .subscriptionIdentifier && context == .publish)
            if !repeatable {
                guard seen.insert(id.rawValue).inserted else {
                    throw MQTTDecodeError.protocolError("property 0x\(String(id.rawValue, radix: 16)) included more than once")
                }
            }
            func byte01(_ name: String) throws -> UInt8 {
                let v = try sub.readByte(name)
                guard v <= 1 else { throw MQTTDecodeError.protocolError("\(name) must be 0 or 1, got \(v)") }
                return v
            }
            switch id {
            case .payloadFormatIndicator: p.payloadFormatIndicator = try byte01("payload format indicator")
            case .messageExpiryInterval: p.messageExpiryInterval = try sub.readUInt32("message expiry interval")
            case .contentType: p.contentType = try sub.readString("content type")
            case .responseTopic:
                let t = try sub.readString("response topic")
                guard MQTTTopic.isValidTopicName(t) else { throw MQTTDecodeError.protocolError("response topic contains wildcards") }
                p.responseTopic = t
            case .correlationData: p.correlationData = try sub.readBinary("correlation data")
            case .subscriptionIdentifier:
                let v = try sub.readVariableByteInteger("subscription identifier")
                guard v != 0 else { throw MQTTDecodeError.protocolError("subscription identifier 0") }
                p.subscriptionIdentifiers.append(v)
            case .sessionExpiryInterval: p.sessionExpiryInterval = try sub.readUInt32("session expiry interval")
            case .assignedClientIdentifier: p.assignedClientIdentifier = try sub.readString("assigned client identifier")
            case .serverKeepAlive: p.serverKeepAlive = try sub.readUInt16("server keep alive")
            case .authenticationMethod: p.authenticationMethod = try sub.readString("authentication method")
            case .authenticationData: p.authenticationData = try sub.readBinary("authentication data")
            case .requestProblemInformation: p.requestProblemInformation = try byte01("request problem information")
            case .willDelayInterval: p.willDelayInterval = try sub.readUInt32("will delay interval")
            case .requestResponseInformation: p.requestResponseInformation = try byte01("request response information")
            case .responseInformation: p.responseInformation = try sub.readString("response information")
            case .serverReference: p.serverReference = try sub.readString("server reference")
            case .reasonString: p.reasonString = try sub.readString("reason string")
            case .receiveMaximum:
                let v = try sub.readUInt16("receive maximum")
                guard v != 0 else { throw MQTTDecodeError.protocolError("receive maximum 0") }
                p.receiveMaximum = v
            case .topicAliasMaximum: p.topicAliasMaximum = try sub.readUInt16("topic alias maximum")
            case .topicAlias:
                let v = try sub.readUInt16("topic alias")
                guard v != 0 else { throw MQTTDecodeError.init(.topicAliasInvalid, "topic alias 0") }
                p.topicAlias = v
            case .maximumQoS: p.maximumQoS = try byte01("maximum QoS")
            case .retainAvailable: p.retainAvailable = try byte01("retain available")
            case .userProperty:
                let name = try sub.readString("user property name")
                let value = try sub.readString("user property value")
                p.userProperties.append(UserProperty(name, value))
            case .maximumPacketSize:
                let v = try sub.readUInt32("maximum packet size")
                guard v != 0 else { throw MQTTDecodeError.protocolError("maximum packet size 0") }
                p.maximumPacketSize = v
            case .wildcardSubscriptionAvailable: p.wildcardSubscriptionAvailable = try byte01("wildcard subscription available")
            case .subscriptionIdentifierAvailable: p.subscriptionIdentifierAvailable = try byte01("subscription identifier available")
            case .sharedSubscriptionAvailable: p.sharedSubscriptionAvailable = try byte01("shared subscription available")
            }
        }
        return p
    }

    /// Encodes the properties valid for `context` as a property block (length + properties).
    func encode(into buffer: inout ByteBuffer, context: PropertyContext) throws {
        var body = ByteBuffer()
        body.reserveCapacity(64)
        func id(_ i: PropertyID) -> Bool {
            guard i.isValid(in: context) else { return false }
            body.writeInteger(i.rawValue)
            return true
        }
        if let v = payloadFormatIndicator, id(.payloadFormatIndicator) { body.writeInteger(v) }
        if let v = messageExpiryInterval, id(.messageExpiryInterval) { body.writeInteger(v, endianness: .big) }
        if let v = contentType, id(.contentType) { try body.writeMQTTString(v, "content type") }
        if let v = responseTopic, id(.responseTopic) { try body.writeMQTTString(v, "response topic") }
        if let v = correlationData, id(.correlationData) { try body.writeMQTTBinary(v, "correlation data") }
        for v in subscriptionIdentifiers where PropertyID.subscriptionIdentifier.isValid(in: context) {
            guard v > 0 && v <= mqttMaxVariableByteInteger else {
                throw MQTTError.invalidRequest(.protocolError, "subscription identifier \(v) out of range")
            }
            _ = id(.subscriptionIdentifier)
            body.writeMQTTVariableByteInteger(v)
            if context == .subscribe { break }
        }
        if let v = sessionExpiryInterval, id(.sessionExpiryInterval) { body.writeInteger(v, endianness: .big) }
        if let v = assignedClientIdentifier, id(.assignedClientIdentifier) { try body.writeMQTTString(v) }
        if let v = serverKeepAlive, id(.serverKeepAlive) { body.writeInteger(v, endianness: .big) }
        if let v = authenticationMethod, id(.authenticationMethod) { try body.writeMQTTString(v) }
        if let v = authenticationData, id(.authenticationData) { try body.writeMQTTBinary(v) }
        if let v = requestProblemInformation, id(.requestProblemInformation) { body.writeInteger(v) }
        if let v = willDelayInterval, id(.willDelayInterval) { body.writeInteger(v, endianness: .big) }
        if let v = requestResponseInformation, id(.requestResponseInformation) { body.writeInteger(v) }
        if let v = responseInformation, id(.responseInformation) { try body.writeMQTTString(v) }
        if let v = serverReference, id(.serverReference) { try body.writeMQTTString(v) }
        if let v = reasonString, id(.reasonString) { try body.writeMQTTString(v, "reason string") }
        if let v = receiveMaximum, id(.receiveMaximum) { body.writeInteger(v, endianness: .big) }
        if let v = topicAliasMaximum, id(.topicAliasMaximum) { body.writeInteger(v, endianness: .big) }
        if let v = topicAlias, id(.topicAlias) { body.writeInteger(v, endianness: .big) }
        if let v = maximumQoS, id(.maximumQoS) { body.writeInteger(v) }
        if let v = retainAvailable, id(.retainAvailable) { body.writeInteger(v) }
        for u in userProperties {
            _ = id(.userProperty)
            try body.writeMQTTString(u.name, "user property name")
            try body.writeMQTTString(u.value, "user property value")
        }
        if let v = maximumPacketSize, id(.maximumPacketSize) { body.writeInteger(v, endianness: .big) }
        if let v = wildcardSubscriptionAvailable, id(.wildcardSubscriptionAvailable) { body.writeInteger(v) }
        if let v = subscriptionIdentifierAvailable, id(.subscriptionIdentifierAvailable) { body.writeInteger(v) }
        if let v = sharedSubscriptionAvailable, id(.sharedSubscriptionAvailable) { body.writeInteger(v) }
        guard body.readableBytes <= mqttMaxVariableByteInteger else {
            throw MQTTError.invalidRequest(.packetTooLarge, "properties exceed the maximum length")
        }
        buffer.writeMQTTVariableByteInteger(body.readableBytes)
        buffer.writeBuffer(&body)
    }
}
