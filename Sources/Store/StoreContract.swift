import Foundation
import MillwrightCore

// The store's contract, one protocol per concern. `Store` (SQLite) implements all of them; a
// second backend (PostgreSQL) implements the same ones and must pass the same contract suite
// (Tests/StoreTests/StoreContractTests.swift). Each guarantee is the backend's to keep: one
// open incident per key, the last spare reserved once, an outbox item claimed by one
// dispatcher, a linear audit chain.

/// Ingest: the decision transaction for a batch of detections.
public protocol IngestStore: Sendable {
    func ingest(_ detections: [Detection], rules: PipelineRules, now: Date) async throws -> [IngestOutcome]
    func ingest(_ submissions: [IngestSubmission], rules: PipelineRules) async throws -> [[IngestOutcome]]
    func snapshot(for query: KeyQuery) async throws -> KeySnapshot
    func recordIngestQuarantine(sha256: String, bytes: Int, format: String?, camera: String?, crashes: Int, now: Date) async throws
}

/// The outbox: claiming due work orders, recording delivery outcomes, status read back.
public protocol OutboxStore: Sendable {
    func claimDue(cmms: String, limit: Int, suspects: Bool, rendersEvidence: Bool, now: Date) async throws -> [OutboxItem]
    func hasSuspects(cmms: String, now: Date) async throws -> Bool
    func nextDue(cmms: String) async throws -> Date?
    func renewDeliveryClaim(workOrderId: String, fence: Int64, now: Date) async throws -> Bool
    func recordDelivery(workOrderId: String, fence: Int64, action: DeliveryState.Action, outcome: DeliveryState.Outcome, duration: TimeInterval, policy: DispatchPolicy, jitter: Double, now: Date) async throws -> DeliveryRecord
    func recoverInFlight(_ scope: Store.RecoveryScope, now: Date) async throws -> Int
    func redrive(workOrderId: String, by: String, signature: SignatureIntent?, now: Date) async throws -> Bool
    func openDelivered(cmms: String) async throws -> [Store.OpenWorkOrder]
    func markRepeatsNoted(workOrderId: String, count: Int, now: Date) async throws
    func pendingNotes(cmms: String, limit: Int) async throws -> [Store.PendingNote]
    func recordNote(_ note: Store.PendingNote, sent: Bool, now: Date) async throws
    func applyCMMSStatus(workOrderId: String, status: CMMSStatus, now: Date) async throws -> IncidentLifecycle.Transition
    func feedback(incidentId: String, falsePositive: Bool, by: String?, note: String?, signature: SignatureIntent?, now: Date) async throws -> IncidentLifecycle.Transition
}

/// Notifications, escalation and acknowledgements; small named values (notifier state).
public protocol NotificationStore: Sendable {
    func workOrdersToNotify(now: Date, limit: Int) async throws -> [Store.WorkOrderToNotify]
    func renewNotifyClaim(workOrderId: String, claimedUntil: Date, now: Date) async throws -> Date?
    func markNotified(workOrderId: String, sent: [JSONValue], escalation: Escalation?, now: Date) async throws
    func recordNotifyFailure(workOrderId: String, remaining: [String], sent: [JSONValue], error: String, retryAt: Date?, escalation: Escalation?, now: Date) async throws
    func nextNotificationDue() async throws -> Date?
    func dueEscalations(now: Date, limit: Int) async throws -> [Store.DueEscalation]
    func nextEscalationDue() async throws -> Date?
    func advanceEscalation(workOrderId: String, now: Date) async throws -> [EscalationNotice]
    func recordEscalation(_ notice: EscalationNotice, sent: [JSONValue], now: Date) async throws
    func acknowledge(workOrderId: String, by: String, signature: SignatureIntent?, now: Date) async throws -> Store.Acknowledgement
    func loadValue(_ key: String) async throws -> Data?
    func saveValue(_ key: String, _ value: Data) async throws
    func nodeValueKey(_ name: String) -> String
    func adoptOrphanedValues(_ name: String, window: TimeInterval, now: Date,
                             merge: @escaping @Sendable (_ own: Data?, _ orphans: [Data]) throws -> Data) async throws -> Data?
}

/// Which evidence image belongs to which incident, and camera snapshots.
public protocol EvidenceRecordStore: Sendable {
    func evidenceSource(incidentId: String) async throws -> Store.EvidenceSource?
    func recordEvidence(incidentId: String, workOrderId: String, fence: Int64, sha256: String, usedFrame: Bool, note: String, draft: WorkOrderDraft, now: Date) async throws -> Bool
    func recordAttachment(workOrderId: String, sha256: String, ok: Bool, now: Date) async throws
    func evidenceHash(incidentId: String) async throws -> String?
    func evidenceHashes() async throws -> (audited: [String], open: Set<String>)
    func recordSnapshot(camera: String, sha256: String, at: Date) async throws
    func snapshot(camera: String, near time: Date, tolerance: TimeInterval) async throws -> String?
}

/// What the plant floor (MQTT) has not heard yet.
public protocol FloorStore: Sendable {
    func unannouncedWorkOrders(limit: Int) async throws -> [Store.FloorWorkOrder]
    func markAnnounced(workOrderId: String, phase: String) async throws
    func unannouncedIncidents(limit: Int) async throws -> [Store.FloorIncident]
    func markIncidentAnnounced(incidentId: String, state: String) async throws
    func cameraFloorCounts(cameras: [String]) async throws -> [String: Store.CameraFloorCounts]
}

/// Workload, inventory and part reservations.
public protocol PlanningStore: Sendable {
    func replaceExternalLoad(_ counts: [String: Int], now: Date) async throws
    func currentWorkload() async throws -> Workload
    func importInventory(_ items: [InventoryItem], source: String, now: Date) async throws
    func stock(sku: String) async throws -> Store.StockView?
    func reservations(status: String?, limit: Int) async throws -> [Store.ReservationView]
    func reservationsPage(status: String?, limit: Int, after: PageKey?) async throws -> Page<Store.ReservationView>
    func assignments() async throws -> [String: [Store.AssignedWorkOrder]]
}

/// The read side of the API: lists, pages and single records.
public protocol QueryStore: Sendable {
    func detections(_ f: DetectionFilter) async throws -> [DetectionView]
    func detectionsPage(_ f: DetectionFilter, after: PageKey?) async throws -> Page<DetectionView>
    func detection(id: String) async throws -> DetectionView?
    func incidents(open: Bool?, limit: Int) async throws -> [IncidentView]
    func incidentsPage(open: Bool?, limit: Int, after: PageKey?) async throws -> Page<IncidentView>
    func incident(id: String) async throws -> IncidentView?
    func workOrders(shadow: Bool?, phase: String?, limit: Int) async throws -> [WorkOrderView]
    func workOrdersPage(shadow: Bool?, phase: String?, limit: Int, after: PageKey?) async throws -> Page<WorkOrderView>
    func workOrder(id: String) async throws -> WorkOrderView?
    func workOrdersByPhase() async throws -> [String: Int]
    func stats() async throws -> StoreStats
    func camerasSeen() async throws -> [String]
    func receiptLatenciesMs() async throws -> [Double]
    func boardIncidents(closedSince: Date, limit: Int) async throws -> [IncidentView]
    func orphanGroups(limit: Int) async throws -> [OrphanGroup]
}

/// The sealed audit trail and its checkpoints.
public protocol AuditStore: Sendable {
    func prepareAuditTrail() async throws -> Int64?
    func auditCheckpoint(key: AuditKey, at now: Date) async throws -> AuditCheckpoint
    func appendAuditCheckpoint(key: AuditKey, to file: AuditCheckpointFile, at now: Date) async throws -> AuditCheckpoint
    func verifyAudit(key: AuditKey?, checkpoints: [AuditCheckpoint]) async throws -> AuditChain.Outcome
    func auditSealedFrom() async throws -> Int64?
    func recordAlert(kind: String, subject: String, data: [String: JSONValue], now: Date) async throws
}

/// The nodes sharing the database, for operators; and whether it answers.
public protocol ClusterStore: Sendable {
    var node: String { get }
    var lease: TimeInterval { get }
    var isShared: Bool { get }
    func heartbeat(version: String, startedAt: Date, now: Date) async throws
    func leaveCluster() async throws
    func liveNodes(window: TimeInterval, now: Date) async throws -> [Store.NodeView]
    func ping() async throws
}

/// Everything the running gateway needs from its store.
public typealias GatewayStore = IngestStore & OutboxStore & NotificationStore & EvidenceRecordStore & FloorStore & PlanningStore & QueryStore & AuditStore
    & ClusterStore & UserStore & AnalyticsStore & ShadowStore & ReadbackStore

extension Store: IngestStore, OutboxStore, NotificationStore, EvidenceRecordStore, FloorStore, PlanningStore, QueryStore, AuditStore, ClusterStore, AnalyticsStore,
    ReadbackStore {}
