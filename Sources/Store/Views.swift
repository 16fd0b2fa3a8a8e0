import Foundation
import MillwrightCore

/// API representations (snake_case JSON), read straight from the store.
public struct DetectionView: Sendable, Codable, Equatable {
    public var id: String
    public var cameraId: String
    public var timestamp: Date
    public var receivedAt: Date
    public var defectClass: String
    public var confidence: Double
    public var status: String
    public var reason: String
    public var asset: String?
    public var zone: String?
    public var incidentId: String?
    public var detection: Detection?
}

public struct WorkOrderSummary: Sendable, Codable, Equatable {
    public var id: String
    public var reference: String
    public var cmms: String
    public var phase: String
    public var cmmsId: String?
    public var cmmsStatus: String?
}

public struct IncidentView: Sendable, Codable, Equatable {
    public var id: String
    public var asset: String
    public var defectClass: String
    public var zone: String?
    public var cameraId: String
    public var state: String
    public var resolution: String?
    public var shadow: Bool
    public var openedAt: Date
    public var closedAt: Date?
    public var firstSeen: Date
    public var lastSeen: Date
    public var detectionCount: Int
    public var maxConfidence: Double
    /// Bbox area growth since first seen (0.25 = 25 % larger).
    public var growth: Double?
    public var severity: Int
    public var severityBreakdown: SeverityBreakdown?
    public var priority: String
    public var priorityRule: String
    public var workOrder: WorkOrderSummary?
    /// SHA-256 of the annotated image (`GET /v1/evidence/{sha256}`).
    public var evidenceSha256: String?
    public var evidenceNote: String?
    public var detections: [DetectionView]?
    public var timeline: [TimelineEntry]?
    /// Electronic signatures on this incident and its work order (verdicts, acknowledgements, re-drives).
    public var signatures: [SignatureManifest]?
}

public struct TimelineEntry: Sendable, Codable, Equatable {
    public var seq: Int64
    public var at: Date
    public var kind: String
    public var subject: String
    public var data: [String: JSONValue]
}

public struct DeliveryAttemptView: Sendable, Codable, Equatable {
    public var at: Date
    public var action: String
    public var outcome: String
    public var detail: String?
    public var durationMs: Double
}

public struct WorkOrderView: Sendable, Codable, Equatable {
    public var id: String
    public var incidentId: String
    public var reference: String
    public var cmms: String
    public var cmmsKind: String
    public var shadow: Bool
    public var phase: String
    public var cmmsId: String?
    public var cmmsStatus: String?
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?
    /// Confirming detection's timestamp → CMMS acknowledgement.
    public var latencyMs: Double?
    public var repeatsUnnoted: Int
    public var payload: WorkOrderDraft?
    public var deliveryAttempts: [DeliveryAttemptView]?
    public var assignee: String?
    public var notifiedAt: Date?
    public var acknowledgedAt: Date?
    public var acknowledgedBy: String?
    /// Why someone has not been told yet (retrying), or why notifying finally gave up.
    public var notificationError: String?
    public var notificationGaveUpAt: Date?
}

/// Figures for the demo summary and `/metrics`, counted from the store.
public struct StoreStats: Sendable, Codable, Equatable {
    public var detectionsByStatus: [String: Int]
    public var detectionsTotal: Int
    public var incidentsOpen: Int
    public var incidentsTotal: Int
    public var workOrdersByPhase: [String: Int]
    public var latencyP50Ms: Double?
    public var latencyP99Ms: Double?
    public var latencyMaxMs: Double?
    public var deliveryAttempts: Int
    public var failedAttempts: Int
}

public struct DetectionFilter: Sendable {
    public var camera: String?
    public var status: DetectionStatus?
    public var since: Date?
    public var limit = 100
    public init(camera: String? = nil, status: DetectionStatus? = nil, since: Date? = nil, limit: Int = 100) {
        self.camera = camera; self.status = status; self.since = since; self.limit = limit
    }
}
