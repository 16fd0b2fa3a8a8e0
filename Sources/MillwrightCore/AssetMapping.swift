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
