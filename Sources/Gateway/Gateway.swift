import AsyncHTTPClient
import Capture
import Connectors
import Foundation
import Ingest
import Logging
import MillwrightCore
import Store

/// What the gateway's services share: settings, store, rules, connectors, metrics and the
/// signals between them. The behaviour is in the services (`IngestService`,
/// `OutboxDispatcher`, `StatusSync`, `NotificationService`, `EvidenceRetention`,
/// `PlanningRefresh`, `MQTTBridge`); `servicePlan` puts them in one `ServiceGroup`.
public final class Gateway: Sendable {
    public let settings: Settings
    public let store: any GatewayStore
    public let rules: PipelineRules
    public let connectors: [String: any CMMSConnector]
    public let logger: Logger
    public let metrics: GatewayMetrics
    /// The broker connection as `/readyz` and `/metrics` show it; empty without MQTT.
    public let mqttStatus = MQTTStatusBoard()
    /// The asset register the mapping was checked against (`check-connection` names its rows).
    public let register: AssetRegister?
    /// Frames and annotated images; `nil` runs without evidence (some tests, the bench).
    public let evidence: EvidenceService?
    /// Frames from the `capture:` cameras, for detections sent without one; nil without capture.
    public let capture: CaptureHub?
    /// Decisions as they happen, for the plant floor (MQTT). Best effort: the store is the record.
    public let floorEvents: FloorEventBus
    /// The same decisions, numbered and kept a while for the board (`GET /v1/events`).
    public let events: EventJournal
    /// Parses, validates and commits submissions from every transport.
    public let ingestService: IngestService
    /// New work for the dispatcher of one CMMS (or all).
    let wake: WakeSignals
    /// Notifications and escalation look again now (a delivery, an acknowledgement).
    let planningWake = Wakeup()

    public init(settings: Settings, store: any GatewayStore, register: AssetRegister?, connectors: [any CMMSConnector], logger: Logger,
                evidence: EvidenceService? = nil, planning: PlanningContext? = nil) {
        self.register = register
        let rules = PipelineRules(settings: settings, mapper: AssetMapper(cameras: settings.assets.cameras, register: register), planning: planning)
        let wake = WakeSignals(names: connectors.map(\.name))
        let metrics = GatewayMetrics(), events = EventJournal(), floorEvents = FloorEventBus(journal: events)
        self.events = events
        self.metrics = metrics
        self.floorEvents = floorEvents
        self.settings = settings
        self.evidence = evidence
        capture = settings.capture.cameras.isEmpty ? nil : CaptureHub(settings: settings.capture, logger: logger)
        self.store = store
        self.rules = rules
        self.connectors = Dictionary(connectors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.logger = logger
        self.wake = wake
        var poisonGuard: PoisonGuard?
        if case .sqlite(let path) = settings.storage {
            poisonGuard = try? PoisonGuard(directory: URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("in-progress"))
        }
        ingestService = IngestService(settings: settings, store: store, rules: rules, evidence: evidence, metrics: metrics,
                                      floorEvents: floorEvents, wake: wake, poisonGuard: poisonGuard, logger: logger)
    }

    /// Builds connectors for every configured CMMS; errors name the entry at fault.
    public static func connectors(for settings: Settings, http: HTTPClient) throws -> [any CMMSConnector] {
        try settings.cmms.map { try CMMSRegistry.makeConnector($0, http: http) }
    }

    public func ingest(body: Data, format: VisionFormat?, camera: String? = nil, messageKey: String? = nil, now: Date = Date()) async throws -> IngestReport {
        var source = Source(format: format, camera: camera)
        source.messageKey = messageKey
        return try await ingestService.ingest(body: body, source: source, now: now)
    }

    /// Parses, validates and durably stores one submission (see `IngestService`).
    public func ingest(body: Data, source: Source, now: Date = Date()) async throws -> IngestReport {
        try await ingestService.ingest(body: body, source: source, now: now)
    }

    /// Several submissions taken together, a result each (see `IngestService`).
    public func ingest(batch: [(body: Data, source: Source)], now: Date = Date()) async -> [Result<IngestReport, any Error>] {
        await ingestService.ingest(batch: batch, now: now)
    }

    /// New or re-driven work: let every dispatcher look now.
    public func wakeDispatchers() { wake.signalAll() }
    /// An acknowledgement or a delivery: notifications and escalation look now.
    public func wakePlanning() { planningWake.signal() }
}

/// Wakes a CMMS's dispatcher when new work arrives, instead of waiting for its next poll.
final class WakeSignals: Sendable {
    let wakeups: [String: Wakeup]
    init(names: [String]) { wakeups = Dictionary(names.map { ($0, Wakeup()) }, uniquingKeysWith: { a, _ in a }) }
    func signal(_ name: String) { wakeups[name]?.signal() }
    func signalAll() { for w in wakeups.values { w.signal() } }
    func wait(_ name: String, timeout: Duration) async {
        guard let w = wakeups[name] else { try? await Task.sleep(for: timeout); return }
        await w.wait(timeout: timeout)
    }
}

/// What the plant floor hears about: published on MQTT under each camera's topic (`<prefix>/<site>/<camera>/…`
/// or the UNS template's path), and reported by the Sparkplug edge node.
public enum FloorEvent: Sendable {
    case detection(IngestOutcome, Detection)
    case incident(id: String, camera: String, state: String, detail: String)
    case workOrder(id: String, incidentId: String, camera: String, reference: String, phase: String, cmmsId: String?)
    /// A notification for a recipient's own MQTT topic.
    case notification(topic: String, payload: [UInt8])
}
