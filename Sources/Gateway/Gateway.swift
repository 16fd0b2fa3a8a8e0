import AsyncHTTPClient
import Connectors
import Evidence
import Foundation
import Ingest
import Logging
import MillwrightCore
import Store

/// The running gateway: ingest, dispatch and status sync around one store.
public final class Gateway: Sendable {
    public let settings: Settings
    public let store: Store
    public let rules: PipelineRules
    public let connectors: [String: any CMMSConnector]
    public let logger: Logger
    public let metrics = GatewayMetrics()
    /// The broker connection as `/readyz` and `/metrics` show it; empty without MQTT.
    public let mqttStatus = MQTTStatusBoard()
    /// Frames and annotated images; `nil` runs without evidence (some tests, the bench).
    public let evidence: EvidenceService?
    let wake: WakeSignals
    /// Notifications and escalation look again now (a delivery, an acknowledgement).
    let planningWake = Wakeup()
    /// Decisions as they happen, for the plant floor (MQTT). Best effort: the store is the record.
    public let events: AsyncStream<FloorEvent>
    let eventSink: AsyncStream<FloorEvent>.Continuation

    public init(settings: Settings, store: Store, register: AssetRegister?, connectors: [any CMMSConnector], logger: Logger,
                evidence: EvidenceService? = nil, planning: PlanningContext? = nil) {
        self.settings = settings
        self.evidence = evidence
        self.store = store
        self.rules = PipelineRules(settings: settings, mapper: AssetMapper(cameras: settings.assets.cameras, register: register), planning: planning)
        self.connectors = Dictionary(connectors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.logger = logger
        self.wake = WakeSignals(names: connectors.map(\.name))
        (events, eventSink) = AsyncStream.makeStream(of: FloorEvent.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Builds connectors for every configured CMMS; errors name the entry at fault.
    public static func connectors(for settings: Settings, http: HTTPClient) throws -> [any CMMSConnector] {
        try settings.cmms.map { try ConnectorFactory.make($0, http: http) }
    }

    // MARK: Ingest

    public struct Rejection: Sendable, Codable, Equatable {
        public var index: Int
        public var field: String?
        public var problem: String
    }

    public struct IngestReport: Sendable {
        public var accepted: [IngestOutcome]
        public var rejected: [Rejection]
        public var format: String?
    }

    public enum IngestError: Error, Sendable {
        case unreadable(FieldProblem)
        case tooManyItems(Int, limit: Int)
    }

    /// What the transport knows about a submission that its payload may not say.
    public struct Source: Sendable {
        public var format: VisionFormat?
        public var camera: String?
        /// The camera from the transport (MQTT topic) wins over one in the payload.
        public var cameraIsAuthoritative = false
        public var messageKey: String?
        public var labels: [String: String] = [:]
        public var frigateURL: String?
        /// Confidence for payloads that carry none (`mqtt.sources[].assumed_confidence`).
        public var assumedConfidence: Double?
        public init(format: VisionFormat? = nil, camera: String? = nil) { self.format = format; self.camera = camera }
    }

    public func ingest(body: Data, format: VisionFormat?, camera: String? = nil, messageKey: String? = nil, now: Date = Date()) async throws -> IngestReport {
        var source = Source(format: format, camera: camera)
        source.messageKey = messageKey
        return try await ingest(body: body, source: source, now: now)
    }

    /// Parses, validates and durably stores one submission. Returns after the commit; bad
    /// items are reported and nothing of them is written.
    public func ingest(body: Data, source: Source, now: Date = Date()) async throws -> IngestReport {
        let format = source.format
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch let p as FieldProblem { throw IngestError.unreadable(p) }
        if let items = json.arrayValue, items.count > settings.server.maxBatchItems {
            throw IngestError.tooManyItems(items.count, limit: settings.server.maxBatchItems)
        }
        let context = AdapterContext(cameraId: source.camera, preferContextCamera: source.cameraIsAuthoritative, labelMap: source.labels,
                                     frigateBaseURL: source.frigateURL, receivedAt: now, messageKey: source.messageKey,
                                     assumedConfidence: source.assumedConfidence, maxItems: settings.server.maxBatchItems)
        let (used, results) = Adapters.decodeWithFormat(json, format: format, context: context)
        if results.count > settings.server.maxBatchItems {
            throw IngestError.tooManyItems(results.count, limit: settings.server.maxBatchItems)
        }
        var good: [Detection] = []
        var rejected: [Rejection] = []
        for (position, r) in results.enumerated() {
            switch r {
            case .success(var d):
                do throws(FieldProblem) {
                    try evidence?.takeInlineFrame(&d)
                    good.append(d)
                } catch {
                    rejected.append(Rejection(index: position, field: error.field, problem: error.problem))
                }
            case .failure(let p): rejected.append(Rejection(index: p.index, field: p.problem.field, problem: p.problem.problem))
            }
        }
        let started = ContinuousClock.now
        let outcomes = good.isEmpty ? [] : try await store.ingest(good, rules: rules, now: now)
        metrics.ingestLatency(seconds: (ContinuousClock.now - started).seconds)
        metrics.rejected(count: rejected.count)
        var newWork = false
        for (o, d) in zip(outcomes, good) where !o.duplicate {
            eventSink.yield(.detection(o, d))
            metrics.detection(o.status)
            if o.workOrderId != nil { newWork = true }
            var log = logger
            log[metadataKey: "detection"] = "\(o.id)"
            log[metadataKey: "camera"] = "\(o.cameraId)"
            if let i = o.incidentId { log[metadataKey: "incident"] = "\(i)" }
            if let w = o.workOrderId {
                if let i = o.incidentId { eventSink.yield(.incident(id: i, camera: d.cameraId, state: "open", detail: o.reason)) }
                log[metadataKey: "work_order"] = "\(w)"
                log.info("incident opened, work order queued", metadata: ["status": "\(o.status.rawValue)"])
            } else if o.status == .orphaned {
                log.warning("orphaned detection", metadata: ["reason": "\(o.reason)"])
            } else {
                log.debug("detection stored", metadata: ["status": "\(o.status.rawValue)"])
            }
        }
        if newWork { wake.signalAll() }
        return IngestReport(accepted: outcomes, rejected: rejected, format: used?.rawValue)
    }
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

/// What the plant floor hears about (published on MQTT `<prefix>/<site>/<camera>/…`).
public enum FloorEvent: Sendable {
    case detection(IngestOutcome, Detection)
    case incident(id: String, camera: String, state: String, detail: String)
    case workOrder(id: String, incidentId: String, camera: String, reference: String, phase: String, cmmsId: String?)
    /// A notification for a recipient's own MQTT topic.
    case notification(topic: String, payload: [UInt8])
}

extension Gateway {
    /// New or re-driven work: let every dispatcher look now.
    public func wakeDispatchers() { wake.signalAll() }
    /// An acknowledgement or a delivery: notifications and escalation look now.
    public func wakePlanning() { planningWake.signal() }
}
