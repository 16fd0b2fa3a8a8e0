import Capture
import Foundation
import ServiceLifecycle

/// Runs the capture cameras' decoders (`CaptureHub`) until graceful shutdown, then ends them.
/// In the plan only when `capture:` names cameras.
public struct CaptureService: Service {
    let hub: CaptureHub

    public init(hub: CaptureHub) { self.hub = hub }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await hub.run() }
    }
}
