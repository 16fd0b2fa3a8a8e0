import Capture
import Foundation
import ServiceLifecycle

/// Runs the capture cameras' decoders (`CaptureHub`) until graceful shutdown, then ends them.
/// Without capture cameras it only waits for the shutdown.
public struct CaptureService: Service {
    let gateway: Gateway

    public init(gateway: Gateway) { self.gateway = gateway }

    public func run() async throws {
        guard let hub = gateway.capture else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await hub.run() }
    }
}
