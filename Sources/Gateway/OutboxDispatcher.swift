import Connectors
import Foundation
import Logging
import MillwrightCore
import ServiceLifecycle
import Store

/// Delivers the outbox to each CMMS: bounded concurrency per system, backoff with jitter,
/// `Retry-After`, lookup-before-retry when an outcome is unknown, dead letter at the end.
/// The rules are in `DeliveryState`; this is the I/O shell around them.
///
/// One service runs the loops of every CMMS because two things span them all: recovery of
/// work orders left in flight by a crash must finish before any loop claims work, and a
/// suspect (one of those) is delivered with nothing else in flight anywhere.
public struct OutboxDispatcher: Service {
    let gateway: Gateway
    /// Suspects are delivered alone, across all CMMSs.
    let isolation = DeliveryIsolation()

    public init(gateway: Gateway) { self.gateway = gateway }

    var store: any GatewayStore { gateway.store }
    var logger: Logger { gateway.logger }

    /// Until graceful shutdown, which cancels the loops; a delivery in flight still records
    /// its outcome (see `deliver`).
    public func run() async throws {
        await recover()
        let connectors = Array(gateway.connectors.values)
        // No CMMS (shadow or MQTT-only): nothing to deliver, but a service ends only when told.
        guard !connectors.isEmpty else { try? await gracefulShutdown(); return }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for c in connectors { group.addTask { await self.dispatch(to: c) } }
            }
        }
    }

    func recover() async {
        do {
            let recovered = try await store.recoverInFlight(store.isShared ? .expiredOrMine : .all, now: Date())
            if recovered > 0 { logger.notice("recovered in-flight work orders after restart; each is looked up before resending", metadata: ["count": "\(recovered)"]) }
            for q in try await store.workOrders(shadow: nil, phase: DeliveryState.Phase.quarantined.rawValue, limit: 1000) where q.lastError != nil {
                logger.error("work order quarantined: it was in flight at each of the last restarts", metadata: [
                    "work_order": "\(q.id)", "reason": "\(q.lastError ?? "")"])
            }
        } catch {
            logger.error("recovery failed", metadata: ["error": "\(error)"])
        }
    }

    /// One CMMS's loop, until cancelled.
    func dispatch(to connector: any CMMSConnector) async {
        guard let cmms = gateway.settings.cmms(named: connector.name) else { return }
        let name = connector.name
        let inFlight = InFlightCounter()
        let rendersEvidence = gateway.evidence != nil
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                do {
                    // Work orders that were in flight when the process died go one at a time, with
                    // nothing else in flight anywhere: a crash then blames only the one to blame.
                    if try await store.hasSuspects(cmms: name, now: Date()) { isolation.requestSolo() }
                    if try await deliverOneSuspectAlone(via: connector) { continue }
                    let free = min(cmms.concurrency - inFlight.current, isolation.allowsNormal ? cmms.concurrency : 0)
                    if free > 0 {
                        for item in try await store.claimDue(cmms: name, limit: free, suspects: false, rendersEvidence: rendersEvidence, now: Date()) {
                            inFlight.add(1)
                            isolation.normal(1)
                            group.addTask {
                                await self.deliver(item, via: connector)
                                inFlight.add(-1)
                                self.isolation.normal(-1)
                                self.gateway.wake.signalAll()
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
                await gateway.wake.wait(name, timeout: wait)
            }
        }
    }

    /// Delivers one suspect with nothing else in flight, if one is wanted and it is this
    /// loop's turn. Only the caller that began the solo ends it, whatever happens.
    func deliverOneSuspectAlone(via connector: any CMMSConnector) async throws -> Bool {
        guard isolation.beginSolo() else { return false }
        defer { isolation.endSolo() }
        guard let item = try await store.claimDue(cmms: connector.name, limit: 1, suspects: true, rendersEvidence: gateway.evidence != nil, now: Date()).first else {
            return false
        }
        logger.notice("delivering alone: it was in flight when the gateway stopped", metadata: [
            "work_order": "\(item.workOrderId)", "cmms": "\(connector.name)"])
        await deliver(item, via: connector)
        gateway.wake.signalAll()
        return true
    }

    func deliver(_ item: OutboxItem, via connector: any CMMSConnector) async {
        var log = logger
        log[metadataKey: "work_order"] = "\(item.workOrderId)"
        log[metadataKey: "incident"] = "\(item.incidentId)"
        log[metadataKey: "reference"] = "\(item.reference)"
        log[metadataKey: "cmms"] = "\(connector.name)"
        TestPause.here("before-cmms", subject: item.draft.camera)
        var evidence = Gateway.PreparedEvidence(draft: item.draft, image: nil, claimRenewed: nil)
        if item.action == .create {
            TestCrash.here("render", subject: item.draft.camera)
            evidence = await gateway.ensureEvidence(for: item, connector: connector)
        }
        let (draft, image) = (evidence.draft, evidence.image)
        // The claim is renewed right before the call (with the evidence record when there was one
        // to write): rendering or a pause may have outlasted the lease, and a node that took the
        // work order over may be looking it up right now; a create sent after that would be a
        // second record.
        do {
            let renewed: Bool
            if let withEvidence = evidence.claimRenewed { renewed = withEvidence } else {
                // Not cancelled by a graceful stop (an unstructured task): a renewal refused for
                // cancellation left the item in flight, counted as a crash at the next start.
                let store = self.store
                renewed = try await Task { try await store.renewDeliveryClaim(workOrderId: item.workOrderId, fence: item.fence, now: Date()) }.value
            }
            guard renewed else {
                log.warning("the claim was taken over before the CMMS call; nothing sent, the node holding it now looks it up")
                return
            }
        } catch {
            log.warning("cannot renew the claim before the CMMS call; nothing sent, it is retried after the lease", metadata: ["error": "\(error)"])
            return
        }
        let started = ContinuousClock.now
        TestCrash.here("cmms", subject: item.draft.camera)
        let outcome: DeliveryState.Outcome = switch item.action {
        case .lookup: await connector.lookup(reference: item.reference, createdSince: item.queuedAt)
        case .create, .none: await connector.create(draft)
        }
        let duration = (ContinuousClock.now - started).seconds
        TestPause.here("after-cmms", subject: item.draft.camera)
        let label = outcome.label
        gateway.metrics.delivery(cmms: connector.name, outcome: label)
        for attempt in 1...5 {
            do {
                // Recorded even during a graceful stop (an unstructured task is not cancelled with
                // this one): an item left in flight would count as a crash at the next start.
                let store = self.store, policy = gateway.settings.dispatch
                let rec = try await Task {
                    try await store.recordDelivery(workOrderId: item.workOrderId, fence: item.fence, action: item.action, outcome: outcome, duration: duration,
                                                   policy: policy, jitter: Double.random(in: 0...1), now: Date())
                }.value
                if rec.stale {
                    log.warning("delivery outcome not recorded: this node's lease on the work order ran out and another node holds it now; it looks the work order up before anything else",
                                metadata: ["outcome": "\(label)", "fence": "\(item.fence)"])
                    return
                }
                if rec.state.phase == .delivered || rec.state.phase == .deadLetter {
                    gateway.floorEvents.publish(.workOrder(id: item.workOrderId, incidentId: item.incidentId, camera: item.draft.camera,
                                                           reference: item.reference, phase: rec.state.phase.rawValue, cmmsId: rec.state.cmmsId))
                }
                switch rec.state.phase {
                case .delivered:
                    gateway.wakePlanning()
                    if let latency = rec.latency { gateway.metrics.workOrderDelivered(cmms: connector.name, latencySeconds: latency) }
                    log.info("work order created in CMMS", metadata: ["cmms_id": "\(rec.state.cmmsId ?? "")", "via": "\(label)"])
                    if let image, let cmmsId = rec.state.cmmsId, case .created = outcome {
                        // The link in the text is the fallback when the upload fails.
                        let ok = await connector.attach(cmmsId: cmmsId, filename: "\(item.reference)-evidence.jpg", jpeg: image.jpeg)
                        try? await store.recordAttachment(workOrderId: item.workOrderId, sha256: image.sha256, ok: ok, now: Date())
                        if !ok { log.warning("evidence upload failed; the work order links to it instead") }
                    }
                case .deadLetter:
                    gateway.metrics.deadLettered(cmms: connector.name)
                    log.error("work order dead-lettered", metadata: ["error": "\(rec.state.lastError ?? "")", "attempts": "\(rec.state.attempts)"])
                case .needsReview:
                    log.error("work order needs review: the CMMS could not be shown not to have it; nothing is created until it is re-driven",
                              metadata: ["reason": "\(rec.state.lastError ?? "")"])
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
}
