import Foundation
import Logging
import ServiceLifecycle

/// Deletes evidence of closed incidents older than `evidence.retention`, hourly. Images and
/// frames of open incidents are never deleted. Without evidence or a retention it only
/// waits for the shutdown.
public struct EvidenceRetention: Service {
    let gateway: Gateway

    public init(gateway: Gateway) { self.gateway = gateway }

    public func run() async throws {
        guard let evidence = gateway.evidence, let keepFor = gateway.settings.evidence.retention else {
            try? await gracefulShutdown()
            return
        }
        let store = gateway.store, logger = gateway.logger
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let keep = try await store.evidenceHashes().open
                    let removed = try evidence.images.cleanup(keep: keep, maxAge: keepFor.seconds) + evidence.frames.cleanup(keep: keep, maxAge: keepFor.seconds)
                    if !removed.isEmpty { logger.info("evidence retention", metadata: ["removed": "\(removed.count)"]) }
                } catch {
                    logger.warning("evidence retention failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}
