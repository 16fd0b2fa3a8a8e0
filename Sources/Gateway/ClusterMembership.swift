import Foundation
import Logging
import ServiceLifecycle
import Store

/// This node's presence among the nodes sharing the database: a heartbeat row for
/// `GET /v1/cluster`, and, on a shared database, taking over work orders whose claim's lease
/// ran out (their node died or paused) so they are looked up and delivered by a live one.
/// No leader is elected: each node does the same, and the row locks decide.
public struct ClusterMembership: Service {
    let gateway: Gateway
    let version: String

    public init(gateway: Gateway, version: String) {
        self.gateway = gateway
        self.version = version
    }

    /// Often enough that a lease never runs out unnoticed for long.
    var interval: Duration { .milliseconds(Int64(min(5, max(0.2, gateway.store.lease / 6)) * 1000)) }

    public func run() async throws {
        let store = gateway.store, logger = gateway.logger, started = Date()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await store.heartbeat(version: version, startedAt: started, now: Date())
                    if store.isShared {
                        let taken = try await store.recoverInFlight(.expired, now: Date())
                        if taken > 0 {
                            logger.warning("took over work orders whose node's lease ran out; each is looked up before anything is sent",
                                           metadata: ["count": "\(taken)"])
                            gateway.wake.signalAll()
                        }
                    }
                } catch {
                    logger.warning("cluster heartbeat failed; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
        try? await store.leaveCluster()
    }
}
