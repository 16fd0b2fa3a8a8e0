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
    /// Suspects (in flight at a crash) are delivered alone.
    let isolation = DeliveryIsolation()
    /// Decisions as they happen, for the plant floor (MQTT). Best effort: the store is the record.
    public let floorEvents = FloorEventBus()
    /// Refuses a payload that crashed the process three times (nil: no place to remember it).
    let poisonGuard: PoisonGuard?

    public init(settings: Settings, store: Store, register: AssetRegister?, connectors: [any CMMSConnector], logger: Logger,
                evidence: EvidenceService? = nil, planning: PlanningContext? = nil) {
        self.settings = settings
        self.evidence = evidence
        self.store = store
        self.rules = PipelineRules(settings: settings, mapper: AssetMapper(cameras: settings.assets.cameras, register: register), planning: planning)
        self.connectors = Dictionary(connectors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.logger = logger
        self.wake = WakeSignals(names: connectors.map(\.name))
        if case .sqlite(let path) = settings.storage {
            poisonGuard = try? PoisonGuard(directory: URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("in-progress"))
        } else {
            poisonGuard = nil
        }
    }

    /// Builds connectors for every configured CMMS; errors name the entry at fault.
    public static func connectors(for settings: Settings, http: HTTPClient) throws -> [any CMMSConnector] {
        try settings.cmms.map { try CMMSRegistry.makeConnector($0, http: http) }
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
        /// The gateway died `crashes` times while processing this exact payload.
        case quarantined(crashes: Int, sha256: String)
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
        /// The detector confidence to use for items that carry none (DeepStream's minimal schema).
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
        var guardKey: String?
        if let poisonGuard {
            let context = "\(source.format?.rawValue ?? "auto")|\(source.camera ?? "")"
            switch poisonGuard.begin(PoisonGuard.key(body, context: context)) {
            case .proceed(let key): guardKey = key
            case .quarantine(let key, let crashes):
                metrics.quarantined()
                logger.error("payload quarantined: the gateway died while processing it \(crashes) times; refused",
                             metadata: ["payload_sha256": "\(key)", "bytes": "\(body.count)"])
                try? await store.recordIngestQuarantine(sha256: key, bytes: body.count, format: source.format?.rawValue,
                                                        camera: source.camera, crashes: crashes, now: now)
                throw IngestError.quarantined(crashes: crashes, sha256: key)
            }
        }
        defer { if let guardKey { poisonGuard?.finished(guardKey) } }
        TestCrash.here("ingest", subject: String(decoding: body.prefix(4096), as: UTF8.self))
        let format = source.format
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch let p as FieldProblem { throw IngestError.unreadable(p) }
        if let items = json.arrayValue, items.count > settings.server.maxBatchItems {
            throw IngestError.tooManyItems(items.count, limit: settings.server.maxBatchItems)
        }
        let context = AdapterContext(cameraId: source.camera, preferContextCamera: source.cameraIsAuthoritative, labelMap: source.labels,
                                     frigateBaseURL: source.frigateURL, receivedAt: now, messageKey: source.messageKey,
                                     assumedConfidence: source.assumedConfidence,
                                     maxItems: settings.server.maxBatchItems)
        let (used, results) = Adapters.decodeWithFormat(json, format: format, context: context)
        if results.count > settings.server.maxBatchItems {
            throw IngestError.tooManyItems(results.count, limit: settings.server.maxBatchItems)
        }
        var good: [Detection] = []
        var rejected: [Rejection] = []
        var framesWritten: [String] = []
        for (position, r) in results.enumerated() {
            switch r {
            case .success(var d):
                do throws(FieldProblem) {
                    if let written = try evidence?.takeInlineFrame(&d) { framesWritten.append(written) }
                    good.append(d)
                } catch {
                    rejected.append(Rejection(index: position, field: error.field, problem: error.problem))
                }
            case .failure(let p): rejected.append(Rejection(index: p.index, field: p.problem.field, problem: p.problem.problem))
            }
        }
        let started = ContinuousClock.now
        let outcomes: [IngestOutcome]
        do {
            outcomes = good.isEmpty ? [] : try await store.ingest(good, rules: rules, now: now)
        } catch {
            // Nothing of the submission was committed: neither may its frames stay behind.
            for hash in framesWritten { evidence?.frames.remove(hash) }
            throw error
        }
        metrics.ingestLatency(seconds: (ContinuousClock.now - started).seconds)
        metrics.rejected(count: rejected.count)
        var newWork = false
        for (o, d) in zip(outcomes, good) where !o.duplicate {
            floorEvents.publish(.detection(o, d))
            metrics.detection(o.status)
            if o.workOrderId != nil { newWork = true }
            var log = logger
            log[metadataKey: "detection"] = "\(o.id)"
            log[metadataKey: "camera"] = "\(o.cameraId)"
            if let i = o.incidentId { log[metadataKey: "incident"] = "\(i)" }
            if let w = o.workOrderId {
                if let i = o.incidentId { floorEvents.publish(.incident(id: i, camera: d.cameraId, state: "open", detail: o.reason)) }
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
