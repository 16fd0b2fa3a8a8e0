import Capture
import Foundation
import MillwrightCore

extension MQTTBridge {
    /// The capture cameras' state on the floor: a retained `<camera base>/capture` leaf,
    /// `{"camera_id", "state": "streaming"|"offline", "offline_since", "detail"}`, published at
    /// start and whenever a camera goes online or offline. Its own leaf: the `status` leaf is
    /// about the camera's last detection and is overwritten by each one.
    func captureLoop(_ hub: CaptureHub) async {
        var told: [String: Bool] = [:]
        while !Task.isCancelled {
            for s in hub.statuses where told[s.camera] != s.online {
                guard let base = base(camera: s.camera) else { continue }
                do {
                    _ = try await client.publish(topic: "\(base)/capture", payload: Self.capturePayload(s), qos: .atLeastOnce, retain: true)
                    told[s.camera] = s.online
                } catch {
                    logger.warning("publish failed", metadata: ["topic": "\(base)/capture", "error": "\(error)"])
                }
            }
            // The supervisor's own deadlines are seconds; a second's delay in telling the floor is fine.
            try? await Task.sleep(for: .seconds(1))
        }
    }

    static func capturePayload(_ s: CaptureStatus) -> String {
        json(["camera_id": .string(s.camera), "state": .string(s.online ? "streaming" : "offline"),
              "offline_since": s.offlineSince.map { .string(Timestamps.format($0)) } ?? .null,
              "detail": s.online ? .null : .string(CaptureHub.readyText(s))])
    }
}
