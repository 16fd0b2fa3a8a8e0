import Connectors
import Foundation
import Logging
import MillwrightCore
import ServiceLifecycle
import Store

/// Reads work-order status back from each CMMS, closes incidents whose work is done, notes
/// repeat detections on the work order and attaches evidence a first upload missed. One
/// loop per CMMS, each on that system's `status_poll`, until graceful shutdown.
public struct StatusSync: Service {
    let gateway: Gateway

    public init(gateway: Gateway) { self.gateway = gateway }

    var store: any GatewayStore { gateway.store }
    var logger: Logger { gateway.logger }

    public func run() async throws {
        let polls = gateway.connectors.values.compactMap { c in gateway.settings.cmms(named: c.name).map { (c, $0.statusPollInterval) } }
        guard !polls.isEmpty else { try? await gracefulShutdown(); return }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for (connector, interval) in polls {
                    group.addTask {
                        while !Task.isCancelled {
                            await self.syncOnce(connector)
                            try? await Task.sleep(for: interval)
                        }
                    }
                }
            }
        }
    }

    public func syncOnce(_ connector: any CMMSConnector) async {
        let open: [Store.OpenWorkOrder]
        do { open = try await store.openDelivered(cmms: connector.name) } catch {
            logger.error("status sync query failed", metadata: ["error": "\(error)"]); return
        }
        // Verdicts (and their signatures) for work orders the CMMS has, open or closed.
        if let notes = try? await store.pendingNotes(cmms: connector.name, limit: 50) {
            for note in notes where !Task.isCancelled {
                let sent = await connector.addNote(cmmsId: note.cmmsId, text: note.text)
                do { try await store.recordNote(note, sent: sent, now: Date()) } catch {
                    logger.warning("could not record a CMMS note", metadata: ["work_order": "\(note.workOrderId)", "error": "\(error)"])
                }
            }
        }
        for wo in open {
            if Task.isCancelled { return }
            var log = logger
            log[metadataKey: "work_order"] = "\(wo.workOrderId)"
            log[metadataKey: "incident"] = "\(wo.incidentId)"
            if wo.repeatsUnnoted > 0 {
                let text = "Millwright: \(wo.repeatsUnnoted) more detection(s) of this defect, last at \(Timestamps.format(wo.lastSeen)) UTC."
                if await connector.addNote(cmmsId: wo.cmmsId, text: text) {
                    try? await store.markRepeatsNoted(workOrderId: wo.workOrderId, count: wo.repeatsUnnoted, now: Date())
                }
            }
            if let sha = wo.evidenceToAttach, let jpeg = try? gateway.evidence?.images.get(sha) {
                let ok = await connector.attach(cmmsId: wo.cmmsId, filename: "\(wo.reference)-evidence.jpg", jpeg: jpeg)
                if ok { try? await store.recordAttachment(workOrderId: wo.workOrderId, sha256: sha, ok: true, now: Date()) }
            }
            do {
                guard let status = try await connector.status(cmmsId: wo.cmmsId) else { continue }
                let t = try await store.applyCMMSStatus(workOrderId: wo.workOrderId, status: status, now: Date())
                if case .moved(let from, let to) = t {
                    gateway.floorEvents.publish(.incident(id: wo.incidentId, camera: wo.camera, state: to.rawValue, detail: "CMMS status \(status.rawValue)"))
                    log.info("incident moved by CMMS status", metadata: ["from": "\(from.rawValue)", "to": "\(to.rawValue)", "cmms_status": "\(status.rawValue)"])
                }
            } catch {
                log.warning("status read failed", metadata: ["error": "\(error)"])
            }
        }
        // Not `stats()`: that reads every latency, and this runs on every poll.
        if let byPhase = try? await store.workOrdersByPhase() {
            for phase in DeliveryState.Phase.allCases {
                gateway.metrics.outbox(phase: phase.rawValue, count: byPhase[phase.rawValue] ?? 0)
            }
        }
    }
}
