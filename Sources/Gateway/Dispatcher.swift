import Connectors
import Foundation
import Logging
import MillwrightCore
import Store

/// Delivers the outbox to each CMMS: bounded concurrency per system, backoff with jitter,
/// `Retry-After`, lookup-before-retry when an outcome is unknown, dead letter at the end.
/// The rules are in `DeliveryState`; this is the I/O shell around them.
extension Gateway {
    public func runDispatcher(for connector: any CMMSConnector) async {
        guard let cmms = settings.cmms(named: connector.name) else { return }
        let name = connector.name
        let inFlight = InFlightCounter()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                do {
                    // Work orders that were in flight when the process died go one at a time, with
                    // nothing else in flight anywhere: a crash then blames only the one to blame.
                    if try await store.hasSuspects(cmms: name) { isolation.requestSolo() }
                    if try await deliverOneSuspectAlone(via: connector) { continue }
                    let free = min(cmms.concurrency - inFlight.current, isolation.allowsNormal ? cmms.concurrency : 0)
                    if free > 0 {
                        for item in try await store.claimDue(cmms: name, limit: free, rendersEvidence: evidence != nil) {
                            inFlight.add(1)
                            isolation.normal(1)
                            group.addTask {
                                await self.deliver(item, via: connector)
                                inFlight.add(-1)
                                self.isolation.normal(-1)
                                self.wake.signalAll()
                            }
                        }
                    }
                } catch {
                    logger.error("outbox claim failed", metadata: ["cmms": "\(name)", "error": "\(error)"])
                }
                var wait = Duration.seconds(1)
                if inFlight.current < cmms.concurrency, let due = try? await store.nextDue(cmms: name) {
                    let ms = Int64(max(0, due.timeIntervalSinceNow) * 1000) + 5
                    wait = min(wait, .milliseconds(ms))
                }
                await self.wake.wait(name, timeout: wait)
            }
        }
    }

    /// Delivers one suspect with nothing else in flight, if one is wanted and it is this
    /// dispatcher's turn. Only the caller that began the solo ends it, whatever happens.
    func deliverOneSuspectAlone(via connector: any CMMSConnector) async throws -> Bool {
        guard isolation.beginSolo() else { return false }
        defer { isolation.endSolo() }
        guard let item = try await store.claimDue(cmms: connector.name, limit: 1, suspects: true, rendersEvidence: evidence != nil).first else {
            return false
        }
        logger.notice("delivering alone: it was in flight when the gateway stopped", metadata: [
            "work_order": "\(item.workOrderId)", "cmms": "\(connector.name)"])
        await deliver(item, via: connector)
        wake.signalAll()
        return true
    }

    func deliver(_ item: OutboxItem, via connector: any CMMSConnector) async {
        var log = logger
        log[metadataKey: "work_order"] = "\(item.workOrderId)"
        log[metadataKey: "incident"] = "\(item.incidentId)"
        log[metadataKey: "reference"] = "\(item.reference)"
        log[metadataKey: "cmms"] = "\(connector.name)"
        var image: (jpeg: Data, sha256: String)?
        var draft = item.draft
        if item.action == .create {
            TestCrash.here("render", subject: item.draft.camera)
            let (d, jpeg, sha) = await ensureEvidence(for: item, connector: connector)
            draft = d
            if let jpeg, let sha { image = (jpeg, sha) }
        }
        let started = ContinuousClock.now
        TestCrash.here("cmms", subject: item.draft.camera)
        let outcome: DeliveryState.Outcome = switch item.action {
        case .lookup: await connector.lookup(reference: item.reference)
        case .create, .none: await connector.create(draft)
        }
        let duration = (ContinuousClock.now - started).seconds
        let label = outcome.label
        metrics.delivery(cmms: connector.name, outcome: label)
        for attempt in 1...5 {
            do {
                // Recorded even during a graceful stop (an unstructured task is not cancelled with
                // this one): an item left in flight would count as a crash at the next start.
                let store = self.store, policy = settings.dispatch
                let rec = try await Task {
                    try await store.recordDelivery(workOrderId: item.workOrderId, action: item.action, outcome: outcome, duration: duration,
                                                   policy: policy, jitter: Double.random(in: 0...1))
                }.value
                if rec.state.phase == .delivered || rec.state.phase == .deadLetter {
                    floorEvents.publish(.workOrder(id: item.workOrderId, incidentId: item.incidentId, camera: item.draft.camera,
                                               reference: item.reference, phase: rec.state.phase.rawValue, cmmsId: rec.state.cmmsId))
                }
                switch rec.state.phase {
                case .delivered:
                    wakePlanning()
                    if let latency = rec.latency { metrics.workOrderDelivered(cmms: connector.name, latencySeconds: latency) }
                    log.info("work order created in CMMS", metadata: ["cmms_id": "\(rec.state.cmmsId ?? "")", "via": "\(label)"])
                    if let image, let cmmsId = rec.state.cmmsId, case .created = outcome {
                        // The link in the text is the fallback when the upload fails.
                        let ok = await connector.attach(cmmsId: cmmsId, filename: "\(item.reference)-evidence.jpg", jpeg: image.jpeg)
                        try? await store.recordAttachment(workOrderId: item.workOrderId, sha256: image.sha256, ok: ok)
                        if !ok { log.warning("evidence upload failed; the work order links to it instead") }
                    }
                case .deadLetter:
                    metrics.deadLettered(cmms: connector.name)
                    log.error("work order dead-lettered", metadata: ["error": "\(rec.state.lastError ?? "")", "attempts": "\(rec.state.attempts)"])
                default:
                    log.warning("delivery attempt failed, will retry", metadata: [
                        "outcome": "\(label)", "error": "\(rec.state.lastError ?? "")", "attempt": "\(rec.state.attempts)",
                        "next_attempt_at": "\(rec.state.nextAttemptAt.map(Timestamps.format) ?? "")",
                    ])
                }
                return
            } catch {
                // The outcome is not yet durable; the item stays in flight and is verified
                // with the CMMS after a restart if this keeps failing.
                log.error("could not record delivery outcome", metadata: ["error": "\(error)", "try": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
    }

    /// Reads work-order status back from the CMMS, closes incidents whose work is done and
    /// notes repeat detections on the work order.
    public func runStatusSync(for connector: any CMMSConnector) async {
        guard let cmms = settings.cmms(named: connector.name) else { return }
        while !Task.isCancelled {
            await syncOnce(connector)
            try? await Task.sleep(for: cmms.statusPollInterval)
        }
    }

    public func syncOnce(_ connector: any CMMSConnector) async {
        let open: [Store.OpenWorkOrder]
        do { open = try await store.openDelivered(cmms: connector.name) } catch {
            logger.error("status sync query failed", metadata: ["error": "\(error)"]); return
        }
        for wo in open {
            if Task.isCancelled { return }
            var log = logger
            log[metadataKey: "work_order"] = "\(wo.workOrderId)"
            log[metadataKey: "incident"] = "\(wo.incidentId)"
            if wo.repeatsUnnoted > 0 {
                let text = "Millwright: \(wo.repeatsUnnoted) more detection(s) of this defect, last at \(Timestamps.format(wo.lastSeen)) UTC."
                if await connector.addNote(cmmsId: wo.cmmsId, text: text) {
                    try? await store.markRepeatsNoted(workOrderId: wo.workOrderId, count: wo.repeatsUnnoted)
                }
            }
            if let sha = wo.evidenceToAttach, let jpeg = try? evidence?.images.get(sha) {
                let ok = await connector.attach(cmmsId: wo.cmmsId, filename: "\(wo.reference)-evidence.jpg", jpeg: jpeg)
                if ok { try? await store.recordAttachment(workOrderId: wo.workOrderId, sha256: sha, ok: true) }
            }
            do {
                guard let status = try await connector.status(cmmsId: wo.cmmsId) else { continue }
                let t = try await store.applyCMMSStatus(workOrderId: wo.workOrderId, status: status)
                if case .moved(let from, let to) = t {
                    floorEvents.publish(.incident(id: wo.incidentId, camera: wo.camera, state: to.rawValue, detail: "CMMS status \(status.rawValue)"))
                    log.info("incident moved by CMMS status", metadata: ["from": "\(from.rawValue)", "to": "\(to.rawValue)", "cmms_status": "\(status.rawValue)"])
                }
            } catch {
                log.warning("status read failed", metadata: ["error": "\(error)"])
            }
        }
        // Not `stats()`: that reads every latency, and this runs on every poll.
        if let byPhase = try? await store.workOrdersByPhase() {
            for phase in DeliveryState.Phase.allCases {
                metrics.outbox(phase: phase.rawValue, count: byPhase[phase.rawValue] ?? 0)
            }
        }
    }

    /// Dispatcher and status sync for every CMMS, until cancelled (graceful shutdown).
    public func runBackground() async {
        do {
            let recovered = try await store.recoverInFlight()
            if recovered > 0 { logger.notice("recovered in-flight work orders after restart; each is looked up before resending", metadata: ["count": "\(recovered)"]) }
            for q in try await store.workOrders(phase: DeliveryState.Phase.quarantined.rawValue) where q.lastError != nil {
                logger.error("work order quarantined: it was in flight at each of the last restarts", metadata: [
                    "work_order": "\(q.id)", "reason": "\(q.lastError ?? "")"])
            }
        } catch {
            logger.error("recovery failed", metadata: ["error": "\(error)"])
        }
        await withDiscardingTaskGroup { group in
            // Runs until cancelled even with nothing to do (no CMMS configured: shadow or MQTT-only).
            group.addTask { while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) } }
            group.addTask { await self.runEvidenceRetention() }
            group.addTask { await self.runNotifications() }
            group.addTask { await self.runPlanningSources() }
            for c in connectors.values {
                group.addTask { await self.runDispatcher(for: c) }
                group.addTask { await self.runStatusSync(for: c) }
            }
        }
    }
}
