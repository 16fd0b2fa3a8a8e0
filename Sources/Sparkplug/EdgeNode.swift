import Foundation
import SwiftProtobuf

/// A Sparkplug B 3.0 edge node as a value: the shell tells it what happened (connecting,
/// connected, a message arrived, a value changed) and performs the actions it answers with.
///
/// - Every MQTT connection gets the next `bdSeq` (0…255, wrapping; the shell persists the last
///   one used, so a restart continues the sequence); the NDEATH will and the NBIRTH of that
///   connection carry it.
/// - With a primary host configured nothing is published until its `spBv1.0/STATE/<host>`
///   says online; when it says offline the node publishes NDEATH and asks to reconnect, and is
///   born again once the host is back. STATE messages older than the newest seen are ignored.
/// - `seq` is 0 in NBIRTH and counts every later DBIRTH, NDATA, DDATA and DDEATH, wrapping
///   at 255. NCMD `Node Control/Rebirth` publishes all births again (same bdSeq).
/// - Values are reported by exception: only changed metrics, by alias.
/// - A camera (device) that goes offline gets DDEATH; it is born again when next online.
public struct EdgeNode: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var groupId: String
        public var edgeNodeId: String
        public var primaryHostId: String?
        public var allowCommands: Bool
        /// Device ids, one per camera, in configuration order (aliases follow it).
        public var devices: [String]
        public init(groupId: String, edgeNodeId: String, primaryHostId: String? = nil, allowCommands: Bool = false, devices: [String]) {
            self.groupId = groupId; self.edgeNodeId = edgeNodeId; self.primaryHostId = primaryHostId
            self.allowCommands = allowCommands; self.devices = devices
        }
    }

    /// One MQTT message to publish. Only STATE is ever retained, and STATE is the host's:
    /// nothing this node publishes is.
    public struct Message: Sendable, Equatable {
        public var topic: String
        public var payload: SparkplugPayload
        /// 0 for births, data and DDEATH; 1 for NDEATH (Sparkplug 3.0).
        public var qos: UInt8
        public var bytes: [UInt8] { (try? payload.serializedBytes()) ?? [] }
    }

    public enum Action: Sendable, Equatable {
        case publish(Message)
        /// Subscribe with QoS 1 (commands, and the host's STATE).
        case subscribe([String])
        /// Publish nothing more on this connection: close it and connect again (new bdSeq).
        case reconnect(reason: String)
        /// A host reset a camera's reject signal (`allow_commands` is on): apply and audit it.
        case rejectReset(device: String)
        /// A command was not honoured; the shell logs and audits why.
        case commandRefused(device: String?, reason: String)
    }

    public enum Phase: Sendable, Equatable {
        case disconnected
        /// Connected, waiting for the primary host's STATE to say online.
        case waitingForHost
        case born
    }

    public static let namespace = "spBv1.0"
    /// A command or STATE payload larger than this is refused unread: ours are a few bytes.
    public static let maxInboundBytes = 64 * 1024
    public static let maxCommandMetrics = 64

    public let configuration: Configuration
    public private(set) var phase: Phase = .disconnected
    /// The bdSeq of the current (or last) connection; nil before the first.
    public private(set) var bdSeq: UInt8?
    /// The seq the next message after NBIRTH takes.
    public private(set) var seq: UInt8 = 0
    public private(set) var node: NodeValues
    public private(set) var devices: [String: DeviceValues]
    private var reportedNode: NodeValues?
    private var reportedDevices: [String: DeviceValues] = [:]
    /// Devices with a DBIRTH and no DDEATH since the last NBIRTH.
    public private(set) var alive: Set<String> = []
    private var lastStateTimestamp: UInt64?
    private var hostOnline = false
    private let deviceIndex: [String: Int]

    /// `lastBdSeq` is the bdSeq the previous process used last (persisted by the shell).
    public init(configuration: Configuration, lastBdSeq: UInt8?, node: NodeValues) {
        self.configuration = configuration
        bdSeq = lastBdSeq
        self.node = node
        var index: [String: Int] = [:]
        for (i, d) in configuration.devices.enumerated() where index[d] == nil { index[d] = i }
        deviceIndex = index
        devices = Dictionary(configuration.devices.map { ($0, DeviceValues()) }, uniquingKeysWith: { a, _ in a })
    }

    // MARK: Topics

    public func topic(_ type: String, device: String? = nil) -> String {
        let base = "\(Self.namespace)/\(configuration.groupId)/\(type)/\(configuration.edgeNodeId)"
        return device.map { "\(base)/\($0)" } ?? base
    }

    public var stateTopic: String? { configuration.primaryHostId.map { "\(Self.namespace)/STATE/\($0)" } }

    // MARK: Connection

    /// Before each CONNECT: the next bdSeq (persist it) and the NDEATH to register as the will
    /// (QoS 1, not retained).
    public mutating func connecting(now: Date) -> (bdSeq: UInt8, will: Message) {
        let next = bdSeq.map { $0 &+ 1 } ?? 0
        bdSeq = next
        phase = .disconnected
        return (next, ndeath(now: now))
    }

    /// CONNACK arrived: subscribe, then be born at once or wait for the primary host.
    public mutating func connected(now: Date) -> [Action] {
        var filters = [topic("NCMD"), topic("DCMD", device: "+")]
        if let s = stateTopic { filters.append(s) }
        hostOnline = false
        lastStateTimestamp = nil
        guard configuration.primaryHostId == nil else {
            phase = .waitingForHost
            return [.subscribe(filters)]
        }
        return [.subscribe(filters)] + births(now: now)
    }

    public mutating func disconnected() {
        phase = .disconnected
        alive = []
    }

    /// A graceful stop: the NDEATH the will would have sent (the broker discards the will on
    /// a normal DISCONNECT).
    public mutating func stopping(now: Date) -> [Action] {
        guard phase != .disconnected else { return [] }
        phase = .disconnected
        return [.publish(ndeath(now: now))]
    }

    func ndeath(now: Date) -> Message {
        var p = SparkplugPayload()
        p.timestamp = Self.millis(now)
        p.metrics = [bdSeqMetric(now: now)]
        return Message(topic: topic("NDEATH"), payload: p, qos: 1)
    }

    func bdSeqMetric(now: Date) -> SparkplugMetric {
        var m = SparkplugMetric()
        m.name = "bdSeq"
        m.datatype = SparkplugDataType.int64.rawValue
        m.timestamp = Self.millis(now)
        m.longValue = UInt64(bdSeq ?? 0)
        return m
    }

    // MARK: Births and data

    mutating func nextSeq() -> UInt64 {
        defer { seq = seq &+ 1 }
        return UInt64(seq)
    }

    /// NBIRTH (seq 0) and one DBIRTH per device.
    mutating func births(now: Date) -> [Action] {
        let ts = Self.millis(now)
        phase = .born
        seq = 0
        var nbirth = SparkplugPayload()
        nbirth.timestamp = ts
        nbirth.seq = nextSeq()
        nbirth.metrics = [bdSeqMetric(now: now)] + NodeMetric.allCases.map { SparkplugMetric($0.definition, node.value($0), timestamp: ts, birth: true) }
        reportedNode = node
        var out: [Action] = [.publish(Message(topic: topic("NBIRTH"), payload: nbirth, qos: 0))]
        alive = []
        for d in configuration.devices where !alive.contains(d) { out.append(dbirth(d, now: now)) }
        return out
    }

    mutating func dbirth(_ device: String, now: Date) -> Action {
        let ts = Self.millis(now), i = deviceIndex[device] ?? 0, v = devices[device] ?? DeviceValues()
        var p = SparkplugPayload()
        p.timestamp = ts
        p.seq = nextSeq()
        p.metrics = DeviceMetric.allCases.map { SparkplugMetric($0.definition(device: i), v.value($0), timestamp: ts, birth: true) }
        reportedDevices[device] = v
        alive.insert(device)
        return .publish(Message(topic: topic("DBIRTH", device: device), payload: p, qos: 0))
    }

    /// The gateway's values changed: NDATA with what changed.
    public mutating func nodeChanged(_ values: NodeValues, now: Date) -> [Action] {
        node = values
        guard phase == .born, let before = reportedNode else { return [] }
        let ts = Self.millis(now)
        let changed = NodeMetric.allCases.filter { $0 != .rebirth && before.value($0) != values.value($0) }
        guard !changed.isEmpty else { return [] }
        reportedNode = values
        var p = SparkplugPayload()
        p.timestamp = ts
        p.seq = nextSeq()
        p.metrics = changed.map { SparkplugMetric($0.definition, values.value($0), timestamp: ts, birth: false) }
        return [.publish(Message(topic: topic("NDATA"), payload: p, qos: 0))]
    }

    /// A camera's values changed: DDATA with what changed; DDEATH when it went offline (after
    /// a DDATA saying so), DBIRTH when it is online again after one.
    public mutating func deviceChanged(_ device: String, _ values: DeviceValues, now: Date) -> [Action] {
        guard devices[device] != nil else { return [] }
        devices[device] = values
        guard phase == .born else { return [] }
        guard alive.contains(device) else { return values.online ? [dbirth(device, now: now)] : [] }
        let before = reportedDevices[device] ?? DeviceValues()
        var out: [Action] = []
        let changed = DeviceMetric.allCases.filter { before.value($0) != values.value($0) }
        if !changed.isEmpty {
            let ts = Self.millis(now), i = deviceIndex[device] ?? 0
            var p = SparkplugPayload()
            p.timestamp = ts
            p.seq = nextSeq()
            p.metrics = changed.map { SparkplugMetric($0.definition(device: i), values.value($0), timestamp: ts, birth: false) }
            reportedDevices[device] = values
            out.append(.publish(Message(topic: topic("DDATA", device: device), payload: p, qos: 0)))
        }
        if before.online && !values.online {
            var p = SparkplugPayload()
            p.timestamp = Self.millis(now)
            p.seq = nextSeq()
            alive.remove(device)
            out.append(.publish(Message(topic: topic("DDEATH", device: device), payload: p, qos: 0)))
        }
        return out
    }

    // MARK: Inbound

    /// A message on one of the subscribed topics.
    public mutating func received(topic inbound: String, payload: [UInt8], now: Date) -> [Action] {
        if let s = stateTopic, inbound == s { return hostState(payload, now: now) }
        guard payload.count <= Self.maxInboundBytes else {
            return [.commandRefused(device: nil, reason: "command payload of \(payload.count) bytes exceeds \(Self.maxInboundBytes)")]
        }
        let levels = inbound.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard levels.count >= 4, levels[0] == Self.namespace, levels[1] == configuration.groupId, levels[3] == configuration.edgeNodeId else { return [] }
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 16
        guard let p = try? SparkplugPayload(serializedBytes: payload, options: options) else {
            return [.commandRefused(device: levels.count == 5 ? levels[4] : nil, reason: "not a Sparkplug B payload")]
        }
        guard p.metrics.count <= Self.maxCommandMetrics else {
            return [.commandRefused(device: nil, reason: "\(p.metrics.count) metrics in one command (at most \(Self.maxCommandMetrics))")]
        }
        switch (levels[2], levels.count) {
        case ("NCMD", 4): return nodeCommand(p, now: now)
        case ("DCMD", 5): return deviceCommand(levels[4], p, now: now)
        default: return []
        }
    }

    mutating func nodeCommand(_ p: SparkplugPayload, now: Date) -> [Action] {
        let rebirth = NodeMetric.rebirth.definition
        var out: [Action] = []
        for m in p.metrics {
            guard m.name == rebirth.name || (!m.hasName && m.alias == rebirth.alias) else {
                out.append(.commandRefused(device: nil, reason: "unknown node metric '\(m.hasName ? m.name : "alias \(m.alias)")'"))
                continue
            }
            guard case .booleanValue(true) = m.value else { continue }
            // A rebirth asked for before the host is online waits for it; the births follow then.
            if phase == .born { out += births(now: now) }
        }
        return out
    }

    mutating func deviceCommand(_ device: String, _ p: SparkplugPayload, now: Date) -> [Action] {
        guard let i = deviceIndex[device] else { return [.commandRefused(device: device, reason: "no such device")] }
        let reject = DeviceMetric.rejectPart.definition(device: i)
        var out: [Action] = []
        for m in p.metrics {
            guard m.name == reject.name || (!m.hasName && m.alias == reject.alias) else {
                out.append(.commandRefused(device: device, reason: "only \(reject.name) can be written"))
                continue
            }
            guard configuration.allowCommands else {
                out.append(.commandRefused(device: device, reason: "mqtt.sparkplug.allow_commands is off"))
                continue
            }
            guard case .booleanValue(false) = m.value else {
                out.append(.commandRefused(device: device, reason: "\(reject.name) accepts only false (a reset); the gateway decides rejects"))
                continue
            }
            out.append(.rejectReset(device: device))
            var v = devices[device] ?? DeviceValues()
            v.rejectPart = false
            out += deviceChanged(device, v, now: now)
        }
        return out
    }

    /// Sparkplug 3.0 STATE: `{"online": Bool, "timestamp": ms}`.
    mutating func hostState(_ payload: [UInt8], now: Date) -> [Action] {
        struct State: Decodable { var online: Bool; var timestamp: UInt64 }
        guard payload.count <= 4096, let s = try? JSONDecoder().decode(State.self, from: Data(payload)) else {
            return [.commandRefused(device: nil, reason: "STATE payload is not {\"online\": …, \"timestamp\": …}")]
        }
        if let last = lastStateTimestamp, s.timestamp < last { return [] }
        lastStateTimestamp = s.timestamp
        let wasOnline = hostOnline
        hostOnline = s.online
        switch (phase, s.online) {
        case (.waitingForHost, true): return births(now: now)
        case (.born, false) where wasOnline:
            // The host that was watching is gone: die, reconnect, and be born when it is back.
            phase = .disconnected
            return [.publish(ndeath(now: now)), .reconnect(reason: "primary host \(configuration.primaryHostId ?? "") went offline")]
        default: return []
        }
    }

    public static func millis(_ d: Date) -> UInt64 {
        let ms = (d.timeIntervalSince1970 * 1000).rounded()
        return ms.isFinite && ms > 0 ? UInt64(min(ms, 1.8e19)) : 0
    }
}
