import NIOCore

/// MQTT protocol level: 4 is MQTT 3.1.1, 5 is MQTT 5.0.
public enum MQTTProtocolVersion: UInt8, Sendable, Hashable {
    case v311 = 4
    case v5 = 5
}

public enum QoS: UInt8, Sendable, Hashable, Comparable, CaseIterable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (a: QoS, b: QoS) -> Bool { a.rawValue < b.rawValue }
}

/// The Will Message sent in CONNECT.
public struct WillMessage: Hashable, Sendable {
    public var topic: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    /// MQTT 5 will properties (will delay, message expiry, content type, …).
    public var properties: MQTTProperties

    public init(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: MQTTProperties = .init()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

public struct ConnectPacket: Hashable, Sendable {
    public var protocolVersion: MQTTProtocolVersion
    public var clientID: String
    /// Clean Start (MQTT 5) / Clean Session (3.1.1).
    public var cleanStart: Bool
    public var keepAlive: UInt16
    public var username: String?
    public var password: [UInt8]?
    public var will: WillMessage?
    public var properties: MQTTProperties

    public init(protocolVersion: MQTTProtocolVersion = .v5, clientID: String, cleanStart: Bool = true, keepAlive: UInt16 = 60,
                username: String? = nil, password: [UInt8]? = nil, will: WillMessage? = nil, properties: MQTTProperties = .init()) {
        self.protocolVersion = protocolVersion
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.will = will
        self.properties = properties
    }
}

public struct ConnAckPacket: Hashable, Sendable {
    public var sessionPresent: Bool
    /// MQTT 5 reason code, or the 3.1.1 return code.
    public var reasonCode: ReasonCode
    public var properties: MQTTProperties

    public init(sessionPresent: Bool = false, reasonCode: ReasonCode = .success, properties: MQTTProperties = .init()) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

public struct PublishPacket: Hashable, Sendable {
    public var topic: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    public var dup: Bool
    /// Present iff qos > 0.
    public var packetID: UInt16?
    public var properties: MQTTProperties

    public init(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, dup: Bool = false,
                packetID: UInt16? = nil, properties: MQTTProperties = .init()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetID = packetID
        self.properties = properties
    }
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share this shape.
public struct PubAckPacket: Hashable, Sendable {
    public var packetID: UInt16
    public var reasonCode: ReasonCode
    public var properties: MQTTProperties

    public init(packetID: UInt16, reasonCode: ReasonCode = .success, properties: MQTTProperties = .init()) {
        self.packetID = packetID
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// Retain Handling subscription option (MQTT 5).
public enum RetainHandling: UInt8, Sendable, Hashable {
    case sendOnSubscribe = 0
    case sendOnSubscribeIfNew = 1
    case doNotSend = 2
}

/// One topic filter with its subscription options.
public struct Subscription: Hashable, Sendable {
    public var topicFilter: String
    public var qos: QoS
    public var noLocal: Bool
    public var retainAsPublished: Bool
    public var retainHandling: RetainHandling

    public init(_ topicFilter: String, qos: QoS = .atLeastOnce, noLocal: Bool = false, retainAsPublished: Bool = false,
                retainHandling: RetainHandling = .sendOnSubscribe) {
        self.topicFilter = topicFilter
        self.qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
    }
}

public struct SubscribePacket: Hashable, Sendable {
    public var packetID: UInt16
    public var subscriptions: [Subscription]
    public var properties: MQTTProperties

    public init(packetID: UInt16, subscriptions: [Subscription], properties: MQTTProperties = .init()) {
        self.packetID = packetID
        self.subscriptions = subscriptions
        self.properties = properties
    }
}

public struct SubAckPacket: Hashable, Sendable {
    public var packetID: UInt16
    /// One per requested filter: granted QoS (0x00–0x02) or a failure code.
    public var reasonCodes: [ReasonCode]
    public var properties: MQTTProperties

    public init(packetID: UInt16, reasonCodes: [ReasonCode], properties: MQTTProperties = .init()) {
        self.packetID = packetID
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

public struct UnsubscribePacket: Hashable, Sendable {
    public var packetID: UInt16
    public var topicFilters: [String]
    public var properties: MQTTProperties

    public init(packetID: UInt16, topicFilters: [String], properties: MQTTProperties = .init()) {
        self.packetID = packetID
        self.topicFilters = topicFilters
        self.properties = properties
    }
}

public struct UnsubAckPacket: Hashable, Sendable {
    public var packetID: UInt16
    /// MQTT 5 only; empty for 3.1.1.
    public var reasonCodes: [ReasonCode]
    public var properties: MQTTProperties

    public init(packetID: UInt16, reasonCodes: [ReasonCode] = [], properties: MQTTProperties = .init()) {
        self.packetID = packetID
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

public struct DisconnectPacket: Hashable, Sendable {
    public var reasonCode: ReasonCode
    public var properties: MQTTProperties

    public init(reasonCode: ReasonCode = .normalDisconnection, properties: MQTTProperties = .init()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

public struct AuthPacket: Hashable, Sendable {
    public var reasonCode: ReasonCode
    public var properties: MQTTProperties

    public init(reasonCode: ReasonCode = .success, properties: MQTTProperties = .init()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// Every MQTT control packet.
public enum MQTTPacket: Hashable, Sendable {
    case connect(ConnectPacket)
    case connack(ConnAckPacket)
    case publish(PublishPacket)
    case puback(PubAckPacket)
    case pubrec(PubAckPacket)
    case pubrel(PubAckPacket)
    case pubcomp(PubAckPacket)
    case subscribe(SubscribePacket)
    case suback(SubAckPacket)
    case unsubscribe(UnsubscribePacket)
    case unsuback(UnsubAckPacket)
    case pingreq
    case pingresp
    case disconnect(DisconnectPacket)
    case auth(AuthPacket)

    /// Control packet type (high nibble of the first byte).
    public var typeCode: UInt8 {
        switch self {
        case .connect: 1
        case .connack: 2
        case .publish: 3
        case .puback: 4
        case .pubrec: 5
        case .pubrel: 6
        case .pubcomp: 7
        case .subscribe: 8
        case .suback: 9
        case .unsubscribe: 10
        case .unsuback: 11
        case .pingreq: 12
        case .pingresp: 13
        case .disconnect: 14
        case .auth: 15
        }
    }
}
