import Foundation

/// What the floor is told about one camera right now: the retained UNS `state` leaf and the
/// camera's Sparkplug device metrics are both read off this value.
public struct CameraFloorState: Sendable, Equatable {
    public var openIncidents = 0
    /// The highest severity among the camera's open incidents; nil when none is open.
    public var severity: Int?
    /// Work orders of the camera's incidents not yet delivered to the CMMS.
    public var pendingWorkOrders = 0
    /// The last detection's reject signal for the PLC (confirmed, or suppressed as a repeat).
    public var reject = false
    public var lastDefectClass: String?
    public var lastConfidence: Double?
    /// The last detection's own timestamp (the camera's clock).
    public var lastDetectionAt: Date?
    /// When the gateway last received a detection from the camera (its own clock): liveness.
    public var lastHeardAt: Date?
    public var online = false

    public init() {}
}

/// The configured cameras' floor state, and when each is online: a camera is online while a
/// detection from it arrived within `offlineAfter`. Only the cameras given at start are
/// tracked, so detections from unknown camera ids cannot grow it.
public struct FloorState: Sendable, Equatable {
    public static let defaultOfflineAfter: TimeInterval = 300
    public private(set) var cameras: [String: CameraFloorState]
    public let offlineAfter: TimeInterval

    public init(cameras: [String], offlineAfter: TimeInterval = defaultOfflineAfter) {
        self.cameras = Dictionary(cameras.map { ($0, CameraFloorState()) }, uniquingKeysWith: { a, _ in a })
        self.offlineAfter = offlineAfter
    }

    public subscript(camera: String) -> CameraFloorState? { cameras[camera] }

    /// A detection arrived at `now`. Returns false for a camera that is not tracked.
    @discardableResult
    public mutating func detection(camera: String, defectClass: String, confidence: Double, reject: Bool, at timestamp: Date,
                                   now: Date) -> Bool {
        guard var c = cameras[camera] else { return false }
        c.lastDefectClass = defectClass
        c.lastConfidence = confidence
        c.reject = reject
        c.lastDetectionAt = timestamp
        c.lastHeardAt = now
        c.online = true
        cameras[camera] = c
        return true
    }

    /// The store's current counts for a camera. Returns whether anything changed.
    @discardableResult
    public mutating func counts(camera: String, openIncidents: Int, severity: Int?, pendingWorkOrders: Int) -> Bool {
        guard var c = cameras[camera] else { return false }
        let before = c
        c.openIncidents = openIncidents
        c.severity = openIncidents > 0 ? severity : nil
        c.pendingWorkOrders = pendingWorkOrders
        cameras[camera] = c
        return c != before
    }

    /// A host application reset the camera's reject signal (Sparkplug DCMD).
    public mutating func resetReject(camera: String) { cameras[camera]?.reject = false }

    /// Cameras that were online and have not been heard from within `offlineAfter`, now marked
    /// offline, sorted.
    public mutating func expire(now: Date) -> [String] {
        var gone: [String] = []
        for (id, c) in cameras where c.online {
            if let heard = c.lastHeardAt, now.timeIntervalSince(heard) < offlineAfter { continue }
            cameras[id]?.online = false
            gone.append(id)
        }
        return gone.sorted()
    }

    /// When the next camera would go offline, if any is online.
    public var nextExpiry: Date? {
        cameras.values.compactMap { $0.online ? $0.lastHeardAt?.addingTimeInterval(offlineAfter) : nil }.min()
    }
}
