import Foundation
import MillwrightCore
import Store

/// One publisher's `FloorState` behind a lock, fed by floor events: detections update it
/// directly, incident and work-order news re-read the camera's counts from the store (the
/// events do not carry severities or the outbox's phases).
final class FloorStateBox: @unchecked Sendable {
    private let lock = NSLock()
    private var state: FloorState
    let cameras: [String]

    init(cameras: [String], offlineAfter: TimeInterval = FloorState.defaultOfflineAfter) {
        self.cameras = cameras
        state = FloorState(cameras: cameras, offlineAfter: offlineAfter)
    }

    subscript(camera: String) -> CameraFloorState? { lock.withLock { state[camera] } }
    var nextExpiry: Date? { lock.withLock { state.nextExpiry } }

    func update<T>(_ body: (inout FloorState) -> T) -> T { lock.withLock { body(&state) } }

    /// The event's effect; the cameras whose floor state changed (empty: nothing to tell).
    func apply(_ event: FloorEvent, store: any GatewayStore, now: Date) async -> [String] {
        switch event {
        case .detection(let o, let d):
            let reject = o.status == .confirmed || o.status == .suppressedRepeat
            let tracked = update { $0.detection(camera: d.cameraId, defectClass: d.defectClass, confidence: d.confidence, reject: reject,
                                                 at: d.timestamp, now: now) }
            return tracked ? [d.cameraId] : []
        case .incident(_, let camera, _, _), .workOrder(_, _, let camera, _, _, _):
            guard self[camera] != nil else { return [] }
            return await refresh([camera], store: store)
        case .notification:
            return []
        }
    }

    /// Re-reads the cameras' counts; returns those that changed. A store error keeps the old counts.
    func refresh(_ cameras: [String], store: any GatewayStore) async -> [String] {
        guard let counts = try? await store.cameraFloorCounts(cameras: cameras) else { return [] }
        return update { s in
            counts.sorted { $0.key < $1.key }.compactMap { camera, c in
                s.counts(camera: camera, openIncidents: c.openIncidents, severity: c.severity, pendingWorkOrders: c.pendingWorkOrders) ? camera : nil
            }
        }
    }
}
