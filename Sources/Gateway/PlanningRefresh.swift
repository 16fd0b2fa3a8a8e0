import Connectors
import Foundation
import MillwrightCore
import ServiceLifecycle

/// Reads stock and technicians' open work from the CMMS where its API exposes them
/// (`inventory: { cmms: … }`, `routing: { load_from: … }`), on a timer. A CMMS that cannot
/// be read keeps the last reading; routing and reservations never wait for it. With
/// neither configured it only waits for the shutdown.
public struct PlanningRefresh: Service {
    let gateway: Gateway

    public init(gateway: Gateway) { self.gateway = gateway }

    public func run() async throws {
        let p = gateway.settings.planning, store = gateway.store, logger = gateway.logger
        let stock = p.inventoryCMMS.flatMap { gateway.connectors[$0] as? any CMMSPlanningSource }
        let load = p.loadFromCMMS.flatMap { gateway.connectors[$0] as? any CMMSPlanningSource }
        for (name, source) in [(p.inventoryCMMS, stock), (p.loadFromCMMS, load)] where name != nil && source == nil {
            logger.warning("cmms \(name!) cannot report stock or technicians' load through its API; configure a CSV instead")
        }
        guard stock != nil || load != nil else { try? await gracefulShutdown(); return }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var ok = true
                if let stock {
                    do { try await store.importInventory(try await stock.inventory(), source: "cmms \(p.inventoryCMMS!)", now: Date()) } catch {
                        ok = false
                        logger.warning("could not read stock from the CMMS; keeping the last reading", metadata: ["cmms": "\(p.inventoryCMMS!)", "error": "\(error)"])
                    }
                }
                if let load {
                    do { try await store.replaceExternalLoad(try await load.openWorkByTechnician(), now: Date()) } catch {
                        ok = false
                        logger.warning("could not read technicians' open work from the CMMS; keeping the last reading", metadata: ["cmms": "\(p.loadFromCMMS!)", "error": "\(error)"])
                    }
                }
                try? await Task.sleep(for: ok ? p.cmmsRefresh : min(p.cmmsRefresh, .seconds(30)))
            }
        }
    }
}
