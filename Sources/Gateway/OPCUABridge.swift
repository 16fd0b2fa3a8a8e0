import Foundation
import Logging
import MillwrightCore
import NIOConcurrencyHelpers
import NIOCore
import OPCUA
import ServiceLifecycle
import Store

/// The gateway on OPC UA: runs the server of the `OPCUA` module with one VisionSystem object
/// per camera, and raises a camera's RejectPart when a confirmed detection's incident reaches
/// `opcua.reject_at`. The line resets it by Write (a user of role operator) or, with
/// `opcua.reject_pulse`, the bridge does after that long. It hears detections the way the MQTT
/// bridge does: from `Gateway.floorEvents`.
public final class OPCUABridge: Service, Sendable {
    let gateway: Gateway
    let settings: OPCUASettings
    public let server: OPCUAServer
    let logger: Logger
    let onListening: @Sendable (any Channel) -> Void
    /// Cameras not in `assets.cameras` get an object on their first detection, up to this many.
    static let maxCameras = 1024
    /// Per camera, the number of the latest raise, so a pulse only resets its own.
    private let raises = NIOLockedValueBox([String: UInt64]())

    public init(gateway: Gateway, settings: OPCUASettings, nodeSets: URL, onListening: @escaping @Sendable (any Channel) -> Void) throws {
        self.gateway = gateway
        self.settings = settings
        self.onListening = onListening
        let logger = Logger(label: "millwright.opcua")
        self.logger = logger
        let space = try NodeSetFiles.standardAddressSpace(in: nodeSets)
        let users = settings.users.map { UserAccount(name: $0.name, password: $0.password, role: $0.role == "viewer" ? .viewer : .operator) }
        var core = ServerCore(
            description: ServerDescription(applicationUri: "urn:millwright:\(gateway.settings.site.name)", softwareVersion: MillwrightVersion.current,
                                           endpointUrl: "opc.tcp://\(settings.host):\(settings.port)"),
            addressSpace: space, sessionPolicy: SessionPolicy(allowAnonymous: settings.allowAnonymous, users: users), startTime: Moment.now().wall)
        for camera in gateway.settings.assets.cameras { core.addVisionSystem(camera: camera.camera) }
        let offer = try Self.security(settings, applicationUri: core.description.applicationUri, logger: logger)
        core.offeredSecurity = offer.endpoints
        core.identity = offer.channels.identity
        server = OPCUAServer(core: core, security: offer.channels) { effect in
            if case .rejectPartReset(let camera, let user) = effect {
                logger.notice("RejectPart reset by a client", metadata: ["camera": "\(camera)", "user": "\(user)"])
            }
        }
        if settings.trustAllClients { logger.warning("opcua.trust_all_clients is on: every client certificate is accepted; for commissioning only") }
    }

    /// The host clients are told to use: a wildcard address is no place a client can connect to.
    static func endpointHost(_ settings: OPCUASettings) -> String {
        settings.host == "0.0.0.0" || settings.host == "::" ? ProcessInfo.processInfo.hostName : settings.host
    }

    /// The endpoints (each policy with each mode; None with None), and for the secured
    /// policies the server identity from `pki_dir` (made on first start) and the trust list.
    static func security(_ settings: OPCUASettings, applicationUri: String, logger: Logger) throws -> (endpoints: [EndpointSecurity], channels: SecurityOffer) {
        let modes: [MessageSecurityMode] = (settings.modes.isEmpty ? [.signAndEncrypt] : settings.modes).map { $0 == .sign ? .sign : .signAndEncrypt }
        var endpoints: [EndpointSecurity] = []
        var secured: [SecurityPolicy: Set<MessageSecurityMode>] = [:]
        for policy in settings.security {
            switch policy {
            case .none: endpoints.append(EndpointSecurity(policy: .none, mode: .none))
            case .basic256sha256, .aes128sha256rsaoaep:
                let p: SecurityPolicy = policy == .basic256sha256 ? .basic256Sha256 : .aes128Sha256RsaOaep
                endpoints += modes.map { EndpointSecurity(policy: p, mode: $0) }
                secured[p] = Set(modes)
            }
        }
        guard !secured.isEmpty else { return (endpoints, SecurityOffer()) }
        guard let dir = settings.pkiDir else { throw OPCUABridgeError("opcua.pki_dir is needed by the secured policies") }
        let pki = PKIDirectory(path: dir)
        let (identity, created) = try pki.serverIdentity(applicationUri: applicationUri, hosts: [endpointHost(settings)])
        if created { logger.notice("made the OPC UA server certificate", metadata: ["file": "\(pki.ownCertificate.path)"]) }
        let trustAll = settings.trustAllClients
        return (endpoints, SecurityOffer(secured: secured, identity: identity, trust: { trustAll ? nil : pki.trust($0) }))
    }

    /// Every detection is a result under its camera's ResultManagement/Results: NOK when the
    /// floor is told to reject (as on MQTT), simulated in shadow mode, with the MQTT payload as
    /// its JSON content.
    func record(_ event: FloorEvent, _ outcome: IngestOutcome, _ detection: Detection) {
        // Any base will do: only the payload is kept.
        let json = MQTTBridge.render(event, base: { _ in "" }, statusLeaf: false)?.1 ?? "{}"
        let nanoseconds = (detection.timestamp.timeIntervalSince1970 * 1e9).rounded()
        let created = Int64(exactly: nanoseconds).map(DateTime.init(unixNanoseconds:)) ?? Moment.now().wall
        let result = VisionResult(resultId: outcome.id, rejected: outcome.status == .confirmed || outcome.status == .suppressedRepeat,
                                  simulated: outcome.status == .shadow, creationTime: created, content: json)
        let camera = detection.cameraId
        let added = server.withCore { (core: inout ServerCore) -> Bool in
            guard core.rejectPartNodes.count < Self.maxCameras || core.rejectPart(camera: camera) != nil else { return false }
            core.addResult(camera: camera, result)
            return true
        }
        if !added { logger.warning("result not published: too many cameras", metadata: ["camera": "\(camera)", "limit": "\(Self.maxCameras)"]) }
    }

    private func incident(_ id: String) async -> IncidentView? {
        do { return try await gateway.store.incident(id: id) } catch {
            logger.warning("could not read an incident for OPC UA", metadata: ["incident": "\(id)", "error": "\(error)"])
            return nil
        }
    }

    /// Raises a ResultReadyEventType event on the camera's VisionSystem object and on Server.
    private func raise(_ event: ResultReadyEvent, camera: String) {
        let raised = server.withCore { (core: inout ServerCore) -> Bool in
            guard core.rejectPartNodes.count < Self.maxCameras || core.rejectPart(camera: camera) != nil else { return false }
            core.raise(event, at: .now())
            return true
        }
        if !raised { logger.warning("event not raised: too many cameras", metadata: ["camera": "\(camera)", "limit": "\(Self.maxCameras)"]) }
    }

    public func run() async throws {
        let channel = try await server.start(host: settings.host, port: settings.port, endpointHost: Self.endpointHost(settings))
        onListening(channel)
        await cancelWhenGracefulShutdown { await self.follow() }
        await server.stop()
    }

    func follow() async {
        for await event in gateway.floorEvents.subscribe() { await apply(event) }
    }

    func apply(_ event: FloorEvent) async {
        if case .incident(let id, let camera, let state, _) = event {
            guard let incident = await incident(id) else { return }
            raise(ResultReadyEvent(incident: incident, camera: camera, resultId: "\(id)/\(state)", nok: state != IncidentState.closed.rawValue,
                                   partId: nil, detection: nil, state: state), camera: camera)
            return
        }
        guard case .detection(let outcome, let detection) = event else { return }
        record(event, outcome, detection)
        guard outcome.status == .confirmed, let incidentId = outcome.incidentId else { return }
        let incident = await incident(incidentId)
        if let incident {
            raise(ResultReadyEvent(incident: incident, camera: detection.cameraId, resultId: outcome.id, nok: true, partId: detection.productionOrder,
                                   detection: detection, state: nil), camera: detection.cameraId)
        }
        guard let priority = incident.flatMap({ Priority(rawValue: $0.priority) }), priority >= settings.rejectAt else { return }
        let camera = detection.cameraId
        let raised = server.withCore { (core: inout ServerCore) -> Bool in
            guard core.rejectPartNodes.count < Self.maxCameras || core.rejectPart(camera: camera) != nil else { return false }
            core.setRejectPart(camera: camera, true)
            return true
        }
        guard raised else {
            logger.warning("RejectPart not raised: too many cameras", metadata: ["camera": "\(camera)", "limit": "\(Self.maxCameras)"])
            return
        }
        logger.info("RejectPart raised", metadata: ["camera": "\(camera)", "incident": "\(incidentId)", "priority": "\(priority.rawValue)"])
        guard let pulse = settings.rejectPulse else { return }
        let raise = raises.withLockedValue { (r: inout [String: UInt64]) -> UInt64 in
            r[camera, default: 0] += 1
            return r[camera]!
        }
        Task { [self] in
            try? await Task.sleep(for: pulse)
            // A later raise starts its own pulse; this one only ends itself.
            guard raises.withLockedValue({ $0[camera] == raise }) else { return }
            server.withCore { $0.setRejectPart(camera: camera, false) }
        }
    }
}

struct OPCUABridgeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension ResultReadyEvent {
    /// The event of a confirmed detection (`detection` given) or of an incident's state change
    /// (`state` given): MeasId the incident id, IsSimulated in shadow mode, ResultContent the
    /// JSON of the defect, and Message "<defect> on <asset> at <camera>, severity <n>, <priority>".
    init(incident: IncidentView, camera: String, resultId: String, nok: Bool, partId: String?, detection: Detection?, state: String?) {
        var content: [String: JSONValue] = [
            "defect_class": .string(incident.defectClass), "asset": .string(incident.asset), "zone": JSONValue(incident.zone),
            "incident_id": .string(incident.id), "work_order_reference": JSONValue(incident.workOrder?.reference),
            "severity": .number(Double(incident.severity)), "priority": .string(incident.priority),
            "confidence": .number(detection?.confidence ?? incident.maxConfidence),
        ]
        if let box = detection?.bbox {
            content["bbox"] = .object(["x": .number(box.x), "y": .number(box.y), "width": .number(box.width), "height": .number(box.height)])
        } else {
            content["bbox"] = .null
        }
        if let state { content["incident_state"] = .string(state) }
        let created = detection?.timestamp ?? Date()
        let nanoseconds = (created.timeIntervalSince1970 * 1e9).rounded()
        self.init(camera: camera, resultId: resultId, nok: nok, measId: incident.id, partId: partId,
                  creationTime: Int64(exactly: nanoseconds).map(DateTime.init(unixNanoseconds:)) ?? Moment.now().wall,
                  simulated: incident.shadow, content: MQTTBridge.json(content),
                  message: "\(incident.defectClass) on \(incident.asset) at \(camera), severity \(incident.severity), \(incident.priority)",
                  // Millwright's severity is 0–100; BaseEventType's 1–1000.
                  severity: UInt16(clamping: incident.severity * 10))
    }
}
