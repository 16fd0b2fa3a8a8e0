import Foundation
import Ingest
import Logging
import MillwrightCore
import ServiceLifecycle
import Store

extension Gateway {
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
        /// The gateway is stopping and takes nothing new; nothing of the submission was written.
        case shuttingDown
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
}

/// Parses, validates and durably stores submissions from every transport (REST, MQTT,
/// replay). As a service it is the drain step of a graceful stop: once the transports have
/// stopped taking work, it refuses anything new and returns when the last commit in flight
/// has finished, so the dispatcher stops only after everything accepted is in the store.
/// Without the service running (replay, tests) ingest simply stays open.
public final class IngestService: Service, Sendable {
    let settings: Settings
    let store: any GatewayStore
    let rules: PipelineRules
    let evidence: EvidenceService?
    let metrics: GatewayMetrics
    let floorEvents: FloorEventBus
    let wake: WakeSignals
    /// Refuses a payload that crashed the process three times (nil: no place to remember it).
    let poisonGuard: PoisonGuard?
    let logger: Logger
    let inFlight = CommitsInFlight()
    let groupCommit: GroupCommit
    /// A payload that was in progress at a crash runs alone (see `SuspectGate`).
    let suspects = SuspectGate()

    init(settings: Settings, store: any GatewayStore, rules: PipelineRules, evidence: EvidenceService?, metrics: GatewayMetrics, floorEvents: FloorEventBus,
         wake: WakeSignals, poisonGuard: PoisonGuard?, logger: Logger) {
        self.settings = settings
        self.store = store
        self.rules = rules
        self.evidence = evidence
        self.metrics = metrics
        self.floorEvents = floorEvents
        self.wake = wake
        self.poisonGuard = poisonGuard
        self.logger = logger
        self.groupCommit = GroupCommit(metrics: metrics) { try await store.ingest($0, rules: rules) }
    }

    public func run() async throws {
        // Cancelled rather than shut down gracefully: nothing to wait for.
        do { try await gracefulShutdown() } catch { return }
        await inFlight.closeAndDrain()
    }

    /// Returns after the commit; bad items are reported and nothing of them is written.
    public func ingest(body: Data, source: Gateway.Source, now: Date = Date()) async throws -> Gateway.IngestReport {
        guard inFlight.enter() else { throw Gateway.IngestError.shuttingDown }
        defer { inFlight.leave() }
        let key = poisonGuard.map { _ in PoisonGuard.key(body, context: Self.guardContext(source)) }
        return try await suspects.run(suspect: key.map { poisonGuard?.isSuspect($0) ?? false } ?? false) {
            await ingestTogether([(body, source)], keys: key.map { [$0] }, now: now)[0]
        }.get()
    }

    /// Several submissions taken together (an MQTT batch, one message each): each is guarded,
    /// read and reported on its own exactly as `ingest(body:source:now:)` does, and all are
    /// committed in one wait, so a batch costs one journal append each way and one trip
    /// through group commit instead of one per message. One result per submission, in order.
    /// A suspect among them runs afterwards, alone, as `ingest(body:source:now:)` would run it.
    public func ingest(batch: [(body: Data, source: Gateway.Source)], now: Date = Date()) async -> [Result<Gateway.IngestReport, any Error>] {
        guard inFlight.enter() else { return batch.map { _ in .failure(Gateway.IngestError.shuttingDown) } }
        defer { inFlight.leave() }
        let keys = poisonGuard.map { _ in batch.map { PoisonGuard.key($0.body, context: Self.guardContext($0.source)) } }
        let suspect = keys.map { $0.map { poisonGuard?.isSuspect($0) ?? false } } ?? Array(repeating: false, count: batch.count)
        let ordinary = batch.indices.filter { !suspect[$0] }
        var results = [Result<Gateway.IngestReport, any Error>?](repeating: nil, count: batch.count)
        if !ordinary.isEmpty {
            let together = await suspects.run(suspect: false) {
                await ingestTogether(ordinary.map { batch[$0] }, keys: keys.map { k in ordinary.map { k[$0] } }, now: now)
            }
            for (i, result) in zip(ordinary, together) { results[i] = result }
        }
        for i in batch.indices where suspect[i] {
            results[i] = await suspects.run(suspect: true) {
                await ingestTogether([batch[i]], keys: keys.map { [$0[i]] }, now: now)[0]
            }
        }
        return results.map { $0! }
    }

    /// Submissions inside the gate (a batch's ordinary ones, or one alone); `keys`: their
    /// poison-guard keys (nil: no guard).
    private func ingestTogether(_ batch: [(body: Data, source: Gateway.Source)], keys: [String]?, now: Date) async -> [Result<Gateway.IngestReport, any Error>] {
        var results = [Result<Gateway.IngestReport, any Error>?](repeating: nil, count: batch.count)
        var guardKeys: [String] = []
        if let poisonGuard, let keys {
            let verdicts = poisonGuard.begin(keys)
            for (i, verdict) in verdicts.enumerated() {
                switch verdict {
                case .proceed(let key): guardKeys.append(key)
                case .quarantine(let key, let crashes):
                    results[i] = .failure(await quarantined(key: key, crashes: crashes, bytes: batch[i].body.count, source: batch[i].source, now: now))
                }
            }
        }
        defer { poisonGuard?.finished(guardKeys) }
        var prepared: [(index: Int, submission: Prepared)] = []
        for (i, item) in batch.enumerated() where results[i] == nil {
            do { prepared.append((i, try prepare(body: item.body, source: item.source, now: now))) } catch { results[i] = .failure(error) }
        }
        let committing = prepared.filter { !$0.submission.good.isEmpty }
        let started = ContinuousClock.now
        let committed = committing.isEmpty ? [] : await groupCommit.commit(batch: committing.map(\.submission.good), receivedAt: now)
        let waited = (ContinuousClock.now - started).seconds
        var outcomes: [Int: Result<[IngestOutcome], any Error>] = [:]
        for (item, result) in zip(committing, committed) { outcomes[item.index] = result }
        for (i, submission) in prepared {
            switch outcomes[i] ?? .success([]) {
            case .success(let o):
                // One observation per submission, as one at a time gives (operators count messages by it).
                metrics.ingestLatency(seconds: waited)
                results[i] = .success(report(submission, outcomes: o))
            case .failure(let error):
                discardFrames(of: submission)
                results[i] = .failure(error)
            }
        }
        return results.map { $0! }
    }

    /// What the poison guard hashes beside the payload: the same bytes read another way are another submission.
    static func guardContext(_ source: Gateway.Source) -> String { "\(source.format?.rawValue ?? "auto")|\(source.camera ?? "")" }

    /// Records a refused poison payload; returns the error its caller throws.
    func quarantined(key: String, crashes: Int, bytes: Int, source: Gateway.Source, now: Date) async -> Gateway.IngestError {
        metrics.quarantined()
        logger.error("payload quarantined: the gateway died while processing it \(crashes) times; refused",
                     metadata: ["payload_sha256": "\(key)", "bytes": "\(bytes)"])
        try? await store.recordIngestQuarantine(sha256: key, bytes: bytes, format: source.format?.rawValue,
                                                camera: source.camera, crashes: crashes, now: now)
        return .quarantined(crashes: crashes, sha256: key)
    }

    /// A submission read and checked, not yet committed.
    struct Prepared {
        var good: [Detection] = []
        var rejected: [Gateway.Rejection] = []
        /// Inline frames stored for `good`: removed again if the commit fails.
        var framesWritten: [String] = []
        var format: String?
    }

    /// Parses and validates; throws only for a submission that is unreadable as a whole.
    func prepare(body: Data, source: Gateway.Source, now: Date) throws -> Prepared {
        TestCrash.here("ingest", subject: String(decoding: body.prefix(4096), as: UTF8.self))
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch { throw Gateway.IngestError.unreadable(error) }
        if let items = json.arrayValue, items.count > settings.server.maxBatchItems {
            throw Gateway.IngestError.tooManyItems(items.count, limit: settings.server.maxBatchItems)
        }
        let context = AdapterContext(cameraId: source.camera, preferContextCamera: source.cameraIsAuthoritative, labelMap: source.labels,
                                     frigateBaseURL: source.frigateURL, receivedAt: now, messageKey: source.messageKey,
                                     assumedConfidence: source.assumedConfidence,
                                     maxItems: settings.server.maxBatchItems)
        let (used, results) = Adapters.decodeWithFormat(json, format: source.format, context: context)
        if results.count > settings.server.maxBatchItems {
            throw Gateway.IngestError.tooManyItems(results.count, limit: settings.server.maxBatchItems)
        }
        var prepared = Prepared(format: used?.rawValue)
        for (position, r) in results.enumerated() {
            switch r {
            case .success(var d):
                do throws(FieldProblem) {
                    if let written = try evidence?.takeInlineFrame(&d) { prepared.framesWritten.append(written) }
                    prepared.good.append(d)
                } catch {
                    prepared.rejected.append(Gateway.Rejection(index: position, field: error.field, problem: error.problem))
                }
            case .failure(let p): prepared.rejected.append(Gateway.Rejection(index: p.index, field: p.problem.field, problem: p.problem.problem))
            }
        }
        return prepared
    }

    /// Nothing of the submission was committed: neither may its frames stay behind.
    func discardFrames(of prepared: Prepared) {
        for hash in prepared.framesWritten { evidence?.frames.remove(hash) }
    }

    /// After the commit: metrics, floor events, log lines, and the dispatchers woken for new work.
    func report(_ prepared: Prepared, outcomes: [IngestOutcome]) -> Gateway.IngestReport {
        metrics.rejected(count: prepared.rejected.count)
        var newWork = false
        var byStatus: [DetectionStatus: Int] = [:]
        for (o, d) in zip(outcomes, prepared.good) where !o.duplicate {
            for notice in o.floor {
                switch notice {
                case .detection: floorEvents.publish(.detection(o, d))
                case .incidentOpened(let id, let camera, let detail): floorEvents.publish(.incident(id: id, camera: camera, state: "open", detail: detail))
                }
            }
            byStatus[o.status, default: 0] += 1
            if o.workOrderId != nil { newWork = true }
            // The metadata is built only for a line that will be written.
            let level: Logger.Level = o.workOrderId != nil ? .info : o.status == .orphaned ? .warning : .debug
            guard logger.logLevel <= level else { continue }
            var log = logger
            log[metadataKey: "detection"] = "\(o.id)"
            log[metadataKey: "camera"] = "\(o.cameraId)"
            if let i = o.incidentId { log[metadataKey: "incident"] = "\(i)" }
            if let w = o.workOrderId {
                log[metadataKey: "work_order"] = "\(w)"
                log.info("incident opened, work order queued", metadata: ["status": "\(o.status.rawValue)"])
            } else if o.status == .orphaned {
                log.warning("orphaned detection", metadata: ["reason": "\(o.reason)"])
            } else {
                log.debug("detection stored", metadata: ["status": "\(o.status.rawValue)"])
            }
        }
        for (status, count) in byStatus { metrics.detections(status, count: count) }
        if newWork { wake.signalAll() }
        return Gateway.IngestReport(accepted: outcomes, rejected: prepared.rejected, format: prepared.format)
    }
}

/// Submissions being processed, and whether new ones are still taken: open until the drain,
/// then closed for good. The drain ends when the last one in flight leaves.
struct DrainState: Sendable, Equatable {
    private(set) var inFlight = 0
    private(set) var closed = false

    /// False once closed: the caller must refuse the submission.
    mutating func enter() -> Bool {
        guard !closed else { return false }
        inFlight += 1
        return true
    }

    /// True when this was the last one a drain was waiting for.
    mutating func leave() -> Bool {
        inFlight -= 1
        return closed && inFlight == 0
    }

    /// True when nothing is in flight, so the drain is already over.
    mutating func close() -> Bool {
        closed = true
        return inFlight == 0
    }
}

/// `DrainState` behind a lock, with the one task that waits for the drain.
final class CommitsInFlight: @unchecked Sendable {
    private let lock = NSLock()
    private var state = DrainState()
    private var drainer: CheckedContinuation<Void, Never>?

    func enter() -> Bool { lock.withLock { state.enter() } }

    func leave() {
        let waiter: CheckedContinuation<Void, Never>? = lock.withLock {
            guard state.leave() else { return nil }
            defer { drainer = nil }
            return drainer
        }
        waiter?.resume()
    }

    /// Closes and returns when nothing is in flight (called once, by the service).
    func closeAndDrain() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done: Bool = lock.withLock {
                if state.close() { return true }
                drainer = c
                return false
            }
            if done { c.resume() }
        }
    }
}
