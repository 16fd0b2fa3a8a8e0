import Foundation

/// Where a detection ended up (PRODUCT §3).
public enum DetectionStatus: String, Sendable, Codable, CaseIterable {
    case belowThreshold = "below_threshold"
    case pendingConfirmation = "pending_confirmation"
    case confirmed
    case suppressedRepeat = "suppressed_repeat"
    case orphaned
    case shadow
}

/// One open incident per key: the same defect on the same (sub-)asset and zone.
public struct IncidentKey: Sendable, Hashable, Codable {
    public var asset: String
    public var defectClass: String
    public var zone: String
    public init(asset: String, defectClass: String, zone: String?) {
        self.asset = asset; self.defectClass = defectClass; self.zone = zone ?? ""
    }
}

/// The camera → asset step: which asset a detection is about, or why it is orphaned.
public enum Mapping: Sendable, Equatable {
    case mapped(MappedDetection)
    case orphaned(reason: String)
}

public struct MappedDetection: Sendable, Equatable {
    public var key: IncidentKey
    /// The camera's asset; `key.asset` is the zone's sub-asset when the zone has one.
    public var parentAsset: String
    public var camera: CameraMapping
    public var registerEntry: AssetRecord?
}

public struct AssetMapper: Sendable {
    private let cameras: [String: CameraMapping]
    private let register: AssetRegister?

    public init(cameras: [CameraMapping], register: AssetRegister?) {
        var byCamera: [String: CameraMapping] = [:]
        for c in cameras where byCamera[c.camera] == nil { byCamera[c.camera] = c }
        self.cameras = byCamera
        self.register = register
    }

    public func map(_ d: Detection) -> Mapping {
        guard let cam = cameras[d.cameraId] else {
            return .orphaned(reason: "camera '\(d.cameraId)' has no asset mapping in assets.cameras")
        }
        let asset = d.zone.flatMap { cam.zones[$0] } ?? cam.asset
        var entry: AssetRecord?
        if let register {
            guard let e = register.records[asset] else {
                return .orphaned(reason: "asset '\(asset)' (camera '\(d.cameraId)') is not in the CMMS asset register")
            }
            entry = e
        }
        return .mapped(MappedDetection(key: IncidentKey(asset: asset, defectClass: d.defectClass, zone: d.zone),
                                       parentAsset: cam.asset, camera: cam, registerEntry: entry))
    }
}

/// What the store knows about a key at the moment a detection arrives; read inside the
/// same write transaction as the decision is stored, so concurrent requests see each other.
public struct KeyHistory: Sendable, Equatable {
    public var openIncidentId: String?
    /// When the most recent closed incident of this key was closed.
    public var lastClosedAt: Date?
    public var lastClosedIncidentId: String?
    /// Earlier qualifying detections of this key inside the confirmation window.
    public var qualifyingInWindow: Int
    public init(openIncidentId: String? = nil, lastClosedAt: Date? = nil, lastClosedIncidentId: String? = nil, qualifyingInWindow: Int = 0) {
        self.openIncidentId = openIncidentId; self.lastClosedAt = lastClosedAt
        self.lastClosedIncidentId = lastClosedIncidentId; self.qualifyingInWindow = qualifyingInWindow
    }
}

public enum Decision: Sendable, Equatable {
    case orphaned(reason: String)
    case belowThreshold(minConfidence: Double)
    case pendingConfirmation(have: Int, need: Int)
    /// Appended to an open incident: noted on its work order, never a second one.
    case appendToOpen(incidentId: String)
    /// A repeat within `reopen_after` of the last closure.
    case suppressedAfterClose(incidentId: String?, reopensAt: Date)
    /// A new incident and its work order.
    case openIncident(shadow: Bool)

    public var status: DetectionStatus {
        switch self {
        case .orphaned: .orphaned
        case .belowThreshold: .belowThreshold
        case .pendingConfirmation: .pendingConfirmation
        case .appendToOpen, .suppressedAfterClose: .suppressedRepeat
        case .openIncident(let shadow): shadow ? .shadow : .confirmed
        }
    }

    public var explanation: String {
        switch self {
        case .orphaned(let reason): reason
        case .belowThreshold(let min): "confidence below min_confidence \(min)"
        case .pendingConfirmation(let have, let need): "\(have) of \(need) detections needed to confirm"
        case .appendToOpen(let id): "repeat appended to open incident \(id)"
        case .suppressedAfterClose(_, let at): "repeat within reopen_after of the last closure; a new incident may open after \(Timestamps.format(at))"
        case .openIncident(let shadow): shadow ? "confirmed (shadow mode: recorded, not sent)" : "confirmed: new incident"
        }
    }
}

/// The confirmation and incident rules, in one place.
public enum IncidentRules {
    public static func decide(detection d: Detection, rule: DefectRule, history h: KeyHistory,
                              policy: IncidentPolicy, shadow: Bool) -> Decision {
        guard d.confidence >= rule.minConfidence else { return .belowThreshold(minConfidence: rule.minConfidence) }
        if let open = h.openIncidentId { return .appendToOpen(incidentId: open) }
        let have = h.qualifyingInWindow + 1
        if have < rule.confirmDetections { return .pendingConfirmation(have: have, need: rule.confirmDetections) }
        if let closed = h.lastClosedAt {
            let reopensAt = closed.addingTimeInterval(policy.reopenAfter.seconds)
            if d.timestamp < reopensAt { return .suppressedAfterClose(incidentId: h.lastClosedIncidentId, reopensAt: reopensAt) }
        }
        return .openIncident(shadow: shadow)
    }
}
