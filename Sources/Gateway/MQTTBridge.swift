import Foundation
import Logging
import MillwrightCore
import MQTT
import NIOCore
import ServiceLifecycle

/// Millwright's session on the plant's broker: connects, subscribes to the configured
/// sources, publishes decisions to the floor and keeps `/readyz` told. `intake` reads the
/// subscribed messages into the store; it is a service of its own because a graceful stop
/// ends the intake first and closes this session last, after dispatch has stopped.
///
/// Ingest acknowledges a QoS 1/2 message (PUBACK/PUBREC) only after its detections are
/// committed; a crash in between means the broker redelivers it, and the detection id
/// (the sender's, or one derived from the payload) keeps it single. The session is
/// persistent (clean start off, one-day expiry) so nothing queued is lost across a
/// gateway or broker restart. A payload that can never be stored (malformed JSON, not a
/// detection) is acknowledged and logged, so it cannot block the stream.
public final class MQTTBridge: Service, Sendable {
    let gateway: Gateway
    let settings: MQTTSettings
    public let client: MQTTClient
    let logger: Logger
    let site: String
    let prefix: String?
    /// Where each camera's leaves go: `publish.topic_template`, or `<prefix>/<site>/<camera>`.
    let template: UNSTopicTemplate
    /// The UNS tree (a template is set): leaves `detections`, `incidents`, `work-orders` and a
    /// retained `state`; without it the retained leaf is the older `status`.
    let uns: Bool
    /// Configured cameras' base topics, rendered once at start (the template was checked then).
    let cameraBases: [String: String]
    /// The UNS `state` of the configured cameras (empty without a template).
    let floorState: FloorStateBox
    /// News and the missed-news sweep publish concurrently: each `state` is read and sent under it.
    let stateSerial = SerialLock()
    /// Unacknowledged QoS 1/2 messages the broker may send at once (MQTT 5). mosquitto 2.0
    /// resends a resumed session's whole backlog regardless; the client tolerates that excess
    /// and bounds memory by not reading the socket while its inbound queue is full. Twice what
    /// intake stores at once, so the next group is already here when one commits.
    static let receiveMaximum = UInt16(2 * MQTTIntake.concurrentIngests)

    public init(gateway: Gateway, settings: MQTTSettings) throws {
        self.gateway = gateway
        self.settings = settings
        self.logger = Logger(label: "millwright.mqtt")
        self.site = settings.publishSite ?? gateway.settings.site.name
        self.prefix = settings.publishPrefix
        let template = settings.topicTemplate ?? .legacy(prefix: settings.publishPrefix ?? "millwright")
        let site = self.site, enterprise = gateway.settings.site.enterprise, register = gateway.register
        var bases: [String: String] = [:]
        for cam in gateway.settings.assets.cameras where bases[cam.camera] == nil {
            bases[cam.camera] = template.render(UNSTopicTemplate.values(camera: cam, site: site, enterprise: enterprise, register: register))
        }
        self.template = template
        uns = settings.topicTemplate != nil
        cameraBases = bases
        floorState = FloorStateBox(cameras: uns ? bases.keys.sorted() : [])
        let broker = try MQTTBrokerAddress(parsing: settings.broker)
        var tls: MQTTTLSConfiguration?
        if broker.useTLS || settings.caFile != nil {
            tls = MQTTTLSConfiguration(caFile: settings.caFile, certificateFile: settings.certFile, privateKeyFile: settings.keyFile)
        }
        let gatewayTopic = "\(settings.publishPrefix ?? "millwright")/\(settings.publishSite ?? gateway.settings.site.name)/gateway/status"
        let will = WillMessage(topic: gatewayTopic, payload: ByteBuffer(string: #"{"status":"offline","reason":"connection lost"}"#),
                               qos: .atLeastOnce, retain: true)
        let session = MQTTSessionConfiguration(
            protocolVersion: settings.protocolVersion == 5 ? .v5 : .v311, clientID: settings.clientId, cleanStart: false,
            sessionExpiryInterval: 86_400, keepAlive: 30, username: settings.username, password: settings.password.map { Array($0.utf8) },
            will: prefix == nil ? nil : will, receiveMaximum: Self.receiveMaximum,
            // A packet larger than a REST body is refused from its header, before it is buffered.
            maximumPacketSize: UInt32(clamping: gateway.settings.server.maxBodyBytes))
        client = MQTTClient(configuration: MQTTClientConfiguration(broker: broker, tls: tls, session: session, retryInitialConnect: true))
    }

    var gatewayStatusTopic: String { "\(prefix ?? "millwright")/\(site)/gateway/status" }

    /// The subscription's messages into the store, as a service (see `MQTTIntake`).
    public var intake: MQTTIntake { MQTTIntake(bridge: self) }

    /// Until graceful shutdown: then says offline and disconnects.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.session() }
        } catch is CancellationError {
            // Graceful shutdown (during the first connect): fall through to say offline.
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    /// Connects, subscribes, and publishes until cancelled.
    func session() async throws {
        gateway.mqttStatus.start(at: Date())
        let events = Task { await self.eventLoop() }
        defer { events.cancel() }
        _ = try await client.connect()
        logger.notice("connected to broker", metadata: ["broker": "\(settings.broker)", "client_id": "\(settings.clientId)"])
        if prefix != nil {
            _ = try? await client.publish(topic: gatewayStatusTopic, payload: #"{"status":"online"}"#, qos: .atLeastOnce, retain: true)
        }
        if !settings.sources.isEmpty {
            let group = settings.sharedGroup
            let subs = settings.sources.map { src in Subscription((group.map { "$share/\($0)/" } ?? "") + src.topic, qos: .atLeastOnce) }
            _ = try await client.subscribe(subs)
        }
        // mosquitto's drop counter; other brokers have no such topic (or refuse it): nothing to watch then.
        _ = try? await client.subscribe([Subscription(BrokerDropCounter.topic, qos: .atMostOnce)])
        await withDiscardingTaskGroup { group in
            // Notifications to people's own topics go out even without floor publishing.
            group.addTask { await self.publishLoop() }
            if self.prefix != nil { group.addTask { await self.announceMissedNews() } }
            if self.prefix != nil && self.uns { group.addTask { await self.stateLoop() } }
            if self.prefix != nil, let hub = self.gateway.capture { group.addTask { await self.captureLoop(hub) } }
        }
    }

    /// Graceful stop: announce offline (the will covers a crash), then disconnect.
    func stop() async {
        if prefix != nil {
            _ = try? await client.publish(topic: gatewayStatusTopic, payload: #"{"status":"offline","reason":"shutdown"}"#, qos: .atLeastOnce, retain: true)
        }
        await client.disconnect()
    }

    /// Connection state for `/readyz` and `/metrics`; a reconnect without our session is an alert.
    func eventLoop() async {
        for await event in client.events {
            gateway.mqttStatus.apply(event, at: Date())
            if case .connected(let info) = event, info.sessionLost {
                await raiseBrokerAlert(
                    kind: "mqtt.session_lost",
                    text: "the MQTT broker had no session for the gateway after a reconnect: messages may have been lost at the broker",
                    facts: [.init("broker", settings.broker), .init("client_id", info.clientID)], recipients: settings.alert)
            }
        }
    }

    func publishLoop() async {
        for await event in gateway.floorEvents.subscribe() { await publish(event) }
    }

    /// A camera's base topic: configured cameras' were rendered at start; another camera's
    /// only when the template needs nothing but the site, enterprise and camera id.
    func base(camera: String) -> String? {
        cameraBases[camera] ?? template.render(["site": site, "enterprise": gateway.settings.site.enterprise ?? "", "camera": camera])
    }

    func publish(_ event: FloorEvent) async {
        if case .notification = event {} else if prefix == nil { return }
        if let (topic, payload, retainedStatus) = Self.render(event, base: base, statusLeaf: !uns) {
            await publish(event, topic: topic, payload: payload, retainedStatus: retainedStatus)
        }
        if uns { await tellState(after: event) }
    }

    private func publish(_ event: FloorEvent, topic: String, payload: String, retainedStatus: (String, String)?) async {
        do {
            _ = try await client.publish(topic: topic, payload: payload, qos: .atLeastOnce)
            if let (statusTopic, status) = retainedStatus {
                _ = try await client.publish(topic: statusTopic, payload: status, qos: .atLeastOnce, retain: true)
            }
            switch event {
            case .workOrder(let id, _, _, _, let phase, _): try await gateway.store.markAnnounced(workOrderId: id, phase: phase)
            case .incident(let id, _, let state, _): try await gateway.store.markIncidentAnnounced(incidentId: id, state: state)
            default: break
            }
        } catch {
            logger.warning("publish failed", metadata: ["topic": "\(topic)", "error": "\(error)"])
        }
    }

    /// Incident states and work-order outcomes are durable news: one decided just before a
    /// crash, or while the broker was away, is announced when the gateway is back (at least
    /// once, like QoS 1). Detection events stay best effort: the next one supersedes them.
    func announceMissedNews() async {
        while !Task.isCancelled {
            do {
                for i in try await gateway.store.unannouncedIncidents(limit: 500) {
                    await publish(.incident(id: i.incidentId, camera: i.camera, state: i.state, detail: "state \(i.state) (announced after a restart)"))
                }
                for wo in try await gateway.store.unannouncedWorkOrders(limit: 500) {
                    await publish(.workOrder(id: wo.workOrderId, incidentId: wo.incidentId, camera: wo.camera, reference: wo.reference,
                                             phase: wo.phase, cmmsId: wo.cmmsId))
                }
            } catch {
                logger.warning("could not list unannounced incidents and work orders", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(60))
        }
    }

    /// The UNS `state` leaves: every camera's at start, then each change as events and the
    /// online window move it (a camera silent for `FloorState.defaultOfflineAfter` goes offline).
    func stateLoop() async {
        _ = await floorState.refresh(floorState.cameras, store: gateway.store)
        for camera in floorState.cameras { await publishState(camera) }
        while !Task.isCancelled {
            let wake = floorState.nextExpiry.map { max(0, $0.timeIntervalSinceNow) } ?? 60
            try? await Task.sleep(for: .milliseconds(Int64(min(wake, 60) * 1000) + 10))
            for camera in floorState.update({ $0.expire(now: Date()) }) { await publishState(camera) }
        }
    }

    func tellState(after event: FloorEvent) async {
        for camera in await floorState.apply(event, store: gateway.store, now: Date()) { await publishState(camera) }
    }

    func publishState(_ camera: String) async {
        await stateSerial.run { await self.sendState(camera) }
    }

    private func sendState(_ camera: String) async {
        guard let base = cameraBases[camera], let c = floorState[camera] else { return }
        let state = Self.json([
            "camera_id": .string(camera), "online": .bool(c.online), "open_incidents": .number(Double(c.openIncidents)),
            "severity": c.severity.map { .number(Double($0)) } ?? .null, "reject": .bool(c.reject),
            "last_detection_at": c.lastDetectionAt.map { .string(Timestamps.format($0)) } ?? .null,
            "last_defect_class": JSONValue(c.lastDefectClass), "last_confidence": c.lastConfidence.map { .number($0) } ?? .null,
            "pending_work_orders": .number(Double(c.pendingWorkOrders)),
        ])
        do { _ = try await client.publish(topic: "\(base)/state", payload: state, qos: .atLeastOnce, retain: true) } catch {
            logger.warning("publish failed", metadata: ["topic": "\(base)/state", "error": "\(error)"])
        }
    }

    static func json(_ o: [String: JSONValue]) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: enc.encode(o), as: UTF8.self)) ?? "{}"
    }

    /// Topic and JSON for one event under the camera's base topic (nil: the camera has no place
    /// in the tree); in Millwright's own tree detections also refresh the retained `status`.
    static func render(_ event: FloorEvent, base: (String) -> String?, statusLeaf: Bool) -> (String, String, (String, String)?)? {
        switch event {
        case .detection(let o, let d):
            guard let base = base(d.cameraId) else { return nil }
            let payload = json([
                "detection_id": .string(o.id), "camera_id": .string(d.cameraId), "timestamp": .string(Timestamps.format(d.timestamp)),
                "defect_class": .string(d.defectClass), "confidence": .number(d.confidence), "status": .string(o.status.rawValue),
                "reason": .string(o.reason), "incident_id": JSONValue(o.incidentId), "reject": .bool(o.status == .confirmed || o.status == .suppressedRepeat),
            ])
            let status = json(["camera_id": .string(d.cameraId), "last_detection_at": .string(Timestamps.format(d.timestamp)),
                               "last_status": .string(o.status.rawValue), "last_defect_class": .string(d.defectClass)])
            return ("\(base)/detections", payload, statusLeaf ? ("\(base)/status", status) : nil)
        case .incident(let id, let camera, let state, let detail):
            guard let base = base(camera) else { return nil }
            return ("\(base)/incidents",
                    json(["incident_id": .string(id), "camera_id": .string(camera), "state": .string(state), "detail": .string(detail)]), nil)
        case .workOrder(let id, let incident, let camera, let reference, let phase, let cmmsId):
            guard let base = base(camera) else { return nil }
            return ("\(base)/work-orders",
                    json(["work_order_id": .string(id), "incident_id": .string(incident), "reference": .string(reference),
                          "phase": .string(phase), "cmms_id": JSONValue(cmmsId)]), nil)
        case .notification(let topic, let payload):
            return (topic, String(decoding: payload, as: UTF8.self), nil)
        }
    }
}
