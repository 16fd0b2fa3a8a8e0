import Foundation
import Logging
import MillwrightCore
import MQTT
import NIOCore
import ServiceLifecycle
import Sparkplug

/// The Sparkplug B 3.0 edge node on the plant's broker (`mqtt.sparkplug`): the protocol is
/// `EdgeNode`'s; this shell connects, keeps `bdSeq` in the data folder, feeds it the floor
/// events the JSON publisher hears and performs what it answers.
///
/// It has a connection of its own: Sparkplug wants a clean session and the NDEATH as the
/// will, while the JSON bridge keeps a persistent session for ingest. Every connection gets a
/// new `bdSeq` and so a new will, hence a new client per connection (with the client's own
/// reconnects off). Every input is handled under one lock, in arrival order, so messages leave
/// in `seq` order.
public final class SparkplugService: Service, Sendable {
    let gateway: Gateway
    let settings: MQTTSettings
    let sparkplug: SparkplugSettings
    let broker: MQTTBrokerAddress
    let logger = Logger(label: "millwright.sparkplug")
    /// Where the last bdSeq used is kept across restarts.
    let bdSeqFile: URL
    let floor: FloorStateBox
    /// Camera id → Sparkplug device id (the id with `/`, `+` and `#` replaced).
    let deviceIds: [String: String]
    let cameraOf: [String: String]
    private let node: LockedValue<EdgeNode>
    private let client = LockedValue<MQTTClient?>(nil)
    private let detections = LockedValue<UInt64>(0)
    private let serial = SerialLock()

    public init(gateway: Gateway, settings: MQTTSettings, sparkplug: SparkplugSettings) throws {
        self.gateway = gateway
        self.settings = settings
        self.sparkplug = sparkplug
        broker = try MQTTBrokerAddress(parsing: settings.broker)
        var devices: [String: String] = [:], cameras: [String: String] = [:]
        for cam in gateway.settings.assets.cameras where devices[cam.camera] == nil {
            let id = String(cam.camera.map { "/+#".contains($0) ? "_" : $0 })
            if let other = cameras[id] { throw SparkplugSetupError("cameras \(other) and \(cam.camera) would be the same Sparkplug device '\(id)'") }
            devices[cam.camera] = id
            cameras[id] = cam.camera
        }
        deviceIds = devices
        cameraOf = cameras
        let ordered = gateway.settings.assets.cameras.map(\.camera).filter { devices[$0] != nil }
        floor = FloorStateBox(cameras: ordered)
        bdSeqFile = Self.dataDirectory(gateway.settings).appendingPathComponent("sparkplug-bdseq")
        let config = EdgeNode.Configuration(groupId: sparkplug.groupId, edgeNodeId: sparkplug.edgeNodeId, primaryHostId: sparkplug.primaryHostId,
                                            allowCommands: sparkplug.allowCommands, devices: ordered.compactMap { devices[$0] })
        node = LockedValue(EdgeNode(configuration: config, lastBdSeq: Self.readBdSeq(bdSeqFile),
                                    node: NodeValues(status: "online", version: MillwrightVersion.current)))
    }

    /// Beside the SQLite database; with PostgreSQL, beside the evidence folder.
    static func dataDirectory(_ s: Settings) -> URL {
        if case .sqlite(let path) = s.storage { return URL(fileURLWithPath: path).deletingLastPathComponent() }
        return URL(fileURLWithPath: s.evidence.directory).deletingLastPathComponent()
    }

    /// The last bdSeq used, or nil (first start, or an unreadable file: the sequence restarts at 0).
    static func readBdSeq(_ file: URL) -> UInt8? {
        guard let h = try? FileHandle(forReadingFrom: file) else { return nil }
        defer { try? h.close() }
        let text = String(decoding: (try? h.read(upToCount: 16)) ?? Data(), as: UTF8.self)
        return UInt8(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func writeBdSeq(_ value: UInt8) {
        do {
            try FileManager.default.createDirectory(at: bdSeqFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("\(value)\n".utf8).write(to: bdSeqFile, options: .atomic)
        } catch {
            logger.error("could not keep the Sparkplug bdSeq; after a restart the sequence may repeat", metadata: ["file": "\(bdSeqFile.path)", "error": "\(error)"])
        }
    }

    public func run() async throws {
        let events = gateway.floorEvents.subscribe()
        _ = await floor.refresh(floor.cameras, store: gateway.store)
        await serial.run { _ = self.syncAll(now: Date()) }
        await withDiscardingTaskGroup { group in
            group.addTask { await cancelWhenGracefulShutdown { await self.connectionLoop() } }
            group.addTask { await cancelWhenGracefulShutdown { for await e in events { await self.handle(e) } } }
            group.addTask { await cancelWhenGracefulShutdown { await self.expiryLoop() } }
        }
        // Graceful stop: the NDEATH the will would have sent, then DISCONNECT.
        guard let c = client.get() else { return }
        await serial.run {
            await self.perform(self.node.update { $0.stopping(now: Date()) }, on: c)
        }
        await c.disconnect()
    }

    /// Connects, is born (or waits for the host), handles commands; on a lost connection or a
    /// `reconnect` action, connects again with the next bdSeq.
    func connectionLoop() async {
        var failures = 0
        let policy = MQTTReconnectPolicy()
        while !Task.isCancelled {
            let (bdSeq, will) = node.update { $0.connecting(now: Date()) }
            writeBdSeq(bdSeq)
            let c = MQTTClient(configuration: clientConfiguration(will: will), logger: logger)
            do {
                try await c.connect()
            } catch {
                logger.warning("Sparkplug connection failed", metadata: ["broker": "\(settings.broker)", "error": "\(error)"])
                failures += 1
                try? await Task.sleep(for: .nanoseconds(policy.delay(attempt: failures, random: Double.random(in: 0..<1)).nanoseconds))
                continue
            }
            failures = 0
            logger.notice("Sparkplug edge node connected", metadata: ["bd_seq": "\(bdSeq)", "node": "\(sparkplug.groupId)/\(sparkplug.edgeNodeId)"])
            client.set(c)
            await serial.run { await self.perform(self.node.update { $0.connected(now: Date()) }, on: c) }
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await m in c.messages {
                        let payload = Array(m.payload.readableBytesView)
                        await self.serial.run { await self.perform(self.node.update { $0.received(topic: m.topic, payload: payload, now: Date()) }, on: c) }
                        await m.acknowledge()
                    }
                }
                group.addTask {
                    for await e in c.events { if case .connectionLost = e { break } }
                    // Lost (or closed below): end this client; the loop makes the next.
                    if !Task.isCancelled { await c.disconnect() }
                }
            }
            if Task.isCancelled { return }
            node.update { $0.disconnected() }
            client.set(nil)
        }
    }

    func clientConfiguration(will: EdgeNode.Message) -> MQTTClientConfiguration {
        var tls: MQTTTLSConfiguration?
        if broker.useTLS || settings.caFile != nil {
            tls = MQTTTLSConfiguration(caFile: settings.caFile, certificateFile: settings.certFile, privateKeyFile: settings.keyFile)
        }
        let session = MQTTSessionConfiguration(
            protocolVersion: settings.protocolVersion == 5 ? .v5 : .v311, clientID: "\(settings.clientId)-sparkplug",
            // Sparkplug 3.0: a clean session that ends with the connection.
            cleanStart: true, sessionExpiryInterval: 0, keepAlive: 30,
            username: settings.username, password: settings.password.map { Array($0.utf8) },
            will: WillMessage(topic: will.topic, payload: ByteBuffer(bytes: will.bytes), qos: .atLeastOnce, retain: false),
            maximumPacketSize: UInt32(EdgeNode.maxInboundBytes + 1024))
        return MQTTClientConfiguration(broker: broker, tls: tls, session: session, reconnect: .disabled)
    }

    /// One floor event: the floor state moves, and the node reports what changed.
    func handle(_ event: FloorEvent) async {
        if case .detection = event { detections.update { $0 += 1 } }
        let changed = await floor.apply(event, store: gateway.store, now: Date())
        if case .notification = event { return }
        await serial.run {
            let actions = self.node.update { n in
                changed.flatMap { camera in self.deviceValues(camera).map { n.deviceChanged(self.deviceIds[camera] ?? camera, $0, now: Date()) } ?? [] }
                    + n.nodeChanged(self.nodeValues(), now: Date())
            }
            if let c = self.client.get() { await self.perform(actions, on: c) }
        }
    }

    /// Cameras silent for `FloorState.defaultOfflineAfter` go offline (DDEATH).
    func expiryLoop() async {
        while !Task.isCancelled {
            let wake = floor.nextExpiry.map { max(0, $0.timeIntervalSinceNow) } ?? 60
            try? await Task.sleep(for: .milliseconds(Int64(min(wake, 60) * 1000) + 10))
            let gone = floor.update { $0.expire(now: Date()) }
            guard !gone.isEmpty else { continue }
            await serial.run {
                let actions = self.node.update { n in
                    gone.flatMap { camera in self.deviceValues(camera).map { n.deviceChanged(self.deviceIds[camera] ?? camera, $0, now: Date()) } ?? [] }
                        + n.nodeChanged(self.nodeValues(), now: Date())
                }
                if let c = self.client.get() { await self.perform(actions, on: c) }
            }
        }
    }

    /// Every camera's values and the node's, into the node (before the first birth).
    func syncAll(now: Date) -> [EdgeNode.Action] {
        node.update { n in
            floor.cameras.flatMap { camera in deviceValues(camera).map { n.deviceChanged(deviceIds[camera] ?? camera, $0, now: now) } ?? [] }
                + n.nodeChanged(nodeValues(), now: now)
        }
    }

    func deviceValues(_ camera: String) -> DeviceValues? {
        guard let c = floor[camera] else { return nil }
        var v = DeviceValues()
        v.lastDefectClass = c.lastDefectClass
        v.lastConfidence = c.lastConfidence
        v.rejectPart = c.reject
        v.lastDetectionTime = c.lastDetectionAt.map(EdgeNode.millis)
        v.openIncidents = UInt32(clamping: c.openIncidents)
        v.severity = c.severity.map { Int32(clamping: $0) }
        v.pendingWorkOrders = UInt32(clamping: c.pendingWorkOrders)
        v.online = c.online
        return v
    }

    func nodeValues() -> NodeValues {
        var v = NodeValues(status: "online", version: MillwrightVersion.current)
        v.detections = detections.get()
        let all = floor.cameras.compactMap { floor[$0] }
        v.openIncidents = UInt32(clamping: all.reduce(0) { $0 + $1.openIncidents })
        v.pendingWorkOrders = UInt32(clamping: all.reduce(0) { $0 + $1.pendingWorkOrders })
        v.camerasOnline = UInt32(clamping: all.filter(\.online).count)
        return v
    }

    func perform(_ actions: [EdgeNode.Action], on c: MQTTClient) async {
        for action in actions {
            switch action {
            case .publish(let m):
                do {
                    _ = try await c.publish(topic: m.topic, payload: ByteBuffer(bytes: m.bytes), qos: m.qos == 1 ? .atLeastOnce : .atMostOnce, retain: false)
                } catch {
                    logger.warning("Sparkplug publish failed", metadata: ["topic": "\(m.topic)", "error": "\(error)"])
                }
            case .subscribe(let filters):
                do { _ = try await c.subscribe(filters.map { Subscription($0, qos: .atLeastOnce) }) } catch {
                    logger.warning("Sparkplug subscribe failed", metadata: ["filters": "\(filters)", "error": "\(error)"])
                }
            case .reconnect(let reason):
                logger.notice("Sparkplug edge node reconnecting", metadata: ["reason": "\(reason)"])
                await c.disconnect()
            case .rejectReset(let device):
                let camera = cameraOf[device] ?? device
                floor.update { $0.resetReject(camera: camera) }
                logger.notice("Sparkplug DCMD reset the reject signal", metadata: ["camera": "\(camera)"])
                await audit("sparkplug.reject_reset", camera: camera, data: [:])
            case .commandRefused(let device, let reason):
                let camera = device.map { cameraOf[$0] ?? $0 }
                logger.warning("Sparkplug command refused", metadata: ["device": "\(camera ?? "-")", "reason": "\(reason)"])
                await audit("sparkplug.command_refused", camera: camera, data: ["reason": .string(reason)])
            }
        }
    }

    func audit(_ kind: String, camera: String?, data: [String: JSONValue]) async {
        var d = data
        d["node"] = .string("\(sparkplug.groupId)/\(sparkplug.edgeNodeId)")
        do { try await gateway.store.recordAlert(kind: kind, subject: camera ?? "sparkplug", data: d, now: Date()) } catch {
            logger.error("could not record the Sparkplug command in the audit trail", metadata: ["error": "\(error)"])
        }
    }
}

struct SparkplugSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
