import Capture
import Foundation
import MillwrightCore

extension MQTTBridge {
    /// The capture cameras' state on the floor: a retained `<camera base>/capture` leaf,
    /// `{"camera_id", "state": "streaming"|"offline", "offline_since", "detail", "detector"}`,
    /// published at start, whenever a camera goes online or offline, and whenever its detector
    /// starts or finishes learning, or its worker's status changes. Its own leaf: the `status` leaf is
    /// about the camera's last detection and is overwritten by each one.
    func captureLoop(_ hub: CaptureHub) async {
        var told: [String: String] = [:]
        while !Task.isCancelled {
            for s in hub.statuses {
                let detector = hub.detectorStatus(s.camera)
                // Learning progress is not news; anything else the status says is (a worker
                // ready, or restarting and why: twice per restart, and restarts back off).
                let key = "\(s.online) \(detector.map { if case .learning = $0.phase { "learning" } else { $0.text } } ?? "")"
                guard told[s.camera] != key, let base = base(camera: s.camera) else { continue }
                do {
                    _ = try await client.publish(topic: "\(base)/capture", payload: Self.capturePayload(s, detector: detector), qos: .atLeastOnce, retain: true)
                    told[s.camera] = key
                } catch {
                    logger.warning("publish failed", metadata: ["topic": "\(base)/capture", "error": "\(error)"])
                }
            }
            // The supervisor's own deadlines are seconds; a second's delay in telling the floor is fine.
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// `detector`: the detector's status text (`DetectorStatus.text`), null for a camera without one.
    static func capturePayload(_ s: CaptureStatus, detector: DetectorStatus?) -> String {
        json(["camera_id": .string(s.camera), "state": .string(s.online ? "streaming" : "offline"),
              "offline_since": s.offlineSince.map { .string(Timestamps.format($0)) } ?? .null,
              "detail": s.online ? .null : .string(CaptureHub.readyText(s)),
              "detector": detector.map { .string($0.text) } ?? .null])
    }
}
