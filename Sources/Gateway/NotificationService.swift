import Foundation
import Logging
import MillwrightCore
import Notify
import ServiceLifecycle
import Store

/// Tells people: the assignee and the priority rule's recipients when a work order is in the
/// CMMS, the storeroom its pick list, the escalation chain when nobody acknowledges. Every
/// step is recorded in the store before the next, so a restart neither skips nor repeats one
/// (a send interrupted by a crash is sent again: at least once).
public struct NotificationService: Service {
    static let stateKey = "notifier.state"
    let gateway: Gateway

    public init(gateway: Gateway) { self.gateway = gateway }

    var store: any GatewayStore { gateway.store }
    var logger: Logger { gateway.logger }
    var settings: Settings { gateway.settings }

    /// Passes until graceful shutdown; held notifications (digests, rate limit) are saved
    /// after each pass so a restart sends them.
    public func run() async throws {
        let bus = gateway.floorEvents
        let tz = TimeZone(identifier: settings.site.timezone) ?? .gmt
        let config: NotifierConfiguration
        do {
            config = try NotifierConfiguration(settings.planning.notifications, timeZone: tz,
                                               mqttPublish: { topic, payload in bus.publish(.notification(topic: topic, payload: payload)) })
        } catch {
            // Checked at start (`validateNotifications`); only a CA file removed since then gets here.
            logger.error("notifications disabled: \(error)")
            try? await gracefulShutdown()
            return
        }
        // Each node keeps its held notifications under a key of its own: nodes sharing the
        // database would otherwise overwrite each other's digests. A gone node's are adopted.
        let ownKey = store.nodeValueKey(Self.stateKey)
        let state = (try? await store.loadValue(ownKey)).flatMap { try? JSONDecoder().decode(NotifierState.self, from: $0) }
        let notifier = Notifier(configuration: config, state: state, logger: logger)
        await cancelWhenGracefulShutdown {
            var saved = state
            while !Task.isCancelled {
                if let adopted = await adoptOrphans(notifier) { saved = adopted }
                let next = await tick(notifier, now: Date())
                let current = await notifier.state
                if current != saved, let data = try? JSONEncoder().encode(current) {
                    do { try await store.saveValue(ownKey, data); saved = current } catch {
                        logger.warning("could not save held notifications", metadata: ["error": "\(error)"])
                    }
                }
                let wait = next.map { max(0.01, min(5, $0.timeIntervalSinceNow)) } ?? 5
                await gateway.planningWake.wait(timeout: .milliseconds(Int64(wait * 1000)))
            }
        }
        await notifier.shutdown()
    }

    /// Takes over the held notifications of nodes that left or fell silent (and the single
    /// pre-cluster copy), merged into this node's and saved in one transaction. Returns the
    /// merged state, now saved, or nil when there was nothing to take (or it failed: next pass).
    func adoptOrphans(_ notifier: Notifier) async -> NotifierState? {
        // The in-memory state, unsaved changes included: the merged copy replaces the saved one.
        let base = await notifier.state
        let window = max(60, gateway.store.lease)
        do {
            let merged = try await store.adoptOrphanedValues(Self.stateKey, window: window, now: Date()) { _, orphans in
                var throttle = base.throttle
                for data in orphans {
                    guard let other = try? JSONDecoder().decode(NotifierState.self, from: data) else { continue }
                    throttle.absorb(other.throttle)
                }
                return try JSONEncoder().encode(NotifierState(throttle: throttle))
            }
            guard let merged, let state = try? JSONDecoder().decode(NotifierState.self, from: merged) else { return nil }
            await notifier.restore(state)
            logger.notice("took over held notifications of a node that is gone",
                          metadata: ["held": "\(state.throttle.held.count - base.throttle.held.count)"])
            return await notifier.state
        } catch {
            logger.warning("could not take over held notifications of a gone node; retrying", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// One pass at `now`; returns when something is next due (nil: nothing scheduled).
    public func tick(_ notifier: Notifier, now: Date) async -> Date? {
        let n = settings.planning.notifications
        let started = Date()
        do {
            for wo in try await store.workOrdersToNotify(now: now, limit: 100) {
                var log = logger
                log[metadataKey: "work_order"] = "\(wo.workOrderId)"
                // The pass claimed all of them for one lease; slow sends before this one may have
                // outlasted it, and then another node has this one now.
                guard try await store.renewNotifyClaim(workOrderId: wo.workOrderId, claimedUntil: wo.claimedUntil,
                                                       now: now.addingTimeInterval(Date().timeIntervalSince(started))) != nil else {
                    log.info("claim lost during a long pass; left to the node that took it over")
                    continue
                }
                var reports: [NotificationReport] = []
                var recipients: [String] = []
                for r in wo.recipients.compactMap({ $0 == assignedTechnicianRecipient ? wo.draft.assignee : $0 }) where !recipients.contains(r) {
                    recipients.append(r)
                }
                if !recipients.isEmpty {
                    reports += await notifier.notify(notification(wo.draft, cmmsId: wo.cmmsId, stage: 0), to: recipients,
                                                     priority: wo.draft.priority, now: now)
                }
                // The pick list goes with the first pass, and again only to a storeroom that did not get it.
                let pickTo = wo.pickListRecipients ?? n.pickList
                var pickReports: [NotificationReport] = []
                if let lines = wo.draft.partsStatus, lines.contains(where: { $0.status == .reserved }), !pickTo.isEmpty {
                    let pick = PickList(workOrderID: wo.cmmsId ?? wo.draft.reference, reference: wo.draft.reference, asset: wo.draft.asset,
                                        assetName: wo.draft.assetName, location: wo.draft.location, assignee: wo.draft.assigneeName ?? wo.draft.assignee,
                                        lines: lines)
                    pickReports = await notifier.pickList(pick, to: pickTo, now: now)
                }
                let chain = settings.planning.escalation.chains[wo.draft.priority].map {
                    Escalation(workOrder: wo.workOrderId, stages: $0.map { resolve($0, assignee: wo.draft.assignee) }, startedAt: now)
                }
                let untold = NotificationRetry.untold(recipients, reports) + NotificationRetry.untold(pickTo, pickReports).map { "pick:\($0)" }
                let sent = (reports + pickReports).map(Self.auditEntry)
                if untold.isEmpty {
                    try await store.markNotified(workOrderId: wo.workOrderId, sent: sent, escalation: chain, now: now)
                } else {
                    let why = NotificationRetry.reason(reports + pickReports)
                    let retryAt = NotificationRetry.next(after: wo.attempts + 1, now: now)
                    try await store.recordNotifyFailure(workOrderId: wo.workOrderId, remaining: untold, sent: sent, error: why,
                                                        retryAt: retryAt, escalation: chain, now: now)
                    if let retryAt {
                        log.warning("not everyone could be told; retrying", metadata: ["untold": "\(untold.joined(separator: ","))",
                                                                                    "retry_at": "\(Timestamps.format(retryAt))", "error": "\(why)"])
                    } else {
                        log.error("gave up notifying; the escalation chain takes over", metadata: ["untold": "\(untold.joined(separator: ","))", "error": "\(why)"])
                    }
                }
                for r in reports + pickReports { Self.log(r, log) }
            }
            for due in try await store.dueEscalations(now: now, limit: 100) {
                for notice in try await store.advanceEscalation(workOrderId: due.escalation.workOrder, now: now) {
                    // An escalation is never held back by the rate limit or the digest.
                    let reports = await notifier.notify(notification(due.draft, cmmsId: due.cmmsId, stage: notice.stage + 1),
                                                        to: notice.recipients, priority: .critical, now: now)
                    try await store.recordEscalation(notice, sent: reports.map(Self.auditEntry), now: now)
                    var log = logger
                    log[metadataKey: "work_order"] = "\(notice.workOrder)"
                    log.notice("escalated: not acknowledged", metadata: ["stage": "\(notice.stage + 1)", "to": "\(notice.recipients.joined(separator: ","))"])
                    for r in reports { Self.log(r, log) }
                }
            }
        } catch {
            logger.error("notification pass failed; retrying", metadata: ["error": "\(error)"])
            return now.addingTimeInterval(5)
        }
        for r in await notifier.releaseDue(now: now) { Self.log(r, logger) }
        let escalation = try? await store.nextEscalationDue()
        let retry = try? await store.nextNotificationDue()
        return [escalation, retry, await notifier.nextRelease].compactMap { $0 }.min()
    }

    /// `technician` in a chain means whoever the work order is assigned to.
    func resolve(_ stage: EscalationStage, assignee: String?) -> EscalationStage {
        var s = stage
        s.recipients = stage.recipients.compactMap { $0 == assignedTechnicianRecipient ? assignee : $0 }
        return s
    }

    func notification(_ d: WorkOrderDraft, cmmsId: String?, stage: Int) -> WorkOrderNotification {
        WorkOrderNotification(workOrderID: cmmsId.map { "\($0) (\(d.reference))" } ?? d.reference, title: d.title, priority: d.priority.rawValue,
                              asset: d.assetName.map { "\(d.asset) \($0)" } ?? d.asset, location: d.location ?? d.functionalLocation,
                              defectClass: d.defectClass, severity: Double(d.severity),
                              assignee: d.assignee.map { id in d.assigneeName.map { "\(id) \($0)" } ?? id },
                              assignmentReason: d.assignmentReason, evidenceURL: d.evidenceURL, detectedAt: d.detectedAt, stage: stage)
    }

    static func auditEntry(_ r: NotificationReport) -> JSONValue {
        var o: [String: JSONValue] = ["to": .string(r.recipient), "channel": .string(r.channel.rawValue), "target": JSONValue(r.target)]
        switch r.outcome {
        case .sent: o["outcome"] = .string("sent")
        case .held(let until): o["outcome"] = .string("held until \(Timestamps.format(until))")
        case .failed(let why): o["outcome"] = .string("failed: \(why)")
        }
        return .object(o)
    }

    static func log(_ r: NotificationReport, _ log: Logger) {
        let meta: Logger.Metadata = ["to": "\(r.recipient)", "channel": "\(r.channel.rawValue)", "target": "\(r.target ?? "")"]
        switch r.outcome {
        case .sent: log.info("notified", metadata: meta)
        case .held(let until): log.info("notification held", metadata: meta.merging(["until": "\(Timestamps.format(until))"]) { a, _ in a })
        case .failed(let why): log.warning("notification failed", metadata: meta.merging(["error": "\(why)"]) { a, _ in a })
        }
    }

    /// Start-up check: the SMTP CA file can be read.
    public static func validateNotifications(_ settings: Settings) throws {
        _ = try NotifierConfiguration(settings.planning.notifications, timeZone: .gmt)
    }
}

/// Notifications are at least once: a recipient none of whose channels took the message is
/// told again with backoff (30 s, doubling, at most 30 min apart) until one does, or given up
/// on after `maxAttempts` passes (about three hours).
enum NotificationRetry {
    static let maxAttempts = 12
    static let first: TimeInterval = 30
    static let longest: TimeInterval = 1800

    /// Recipients among `names` with no report that reached them (sent now, or held for later).
    static func untold(_ names: [String], _ reports: [NotificationReport]) -> [String] {
        names.filter { name in
            let mine = reports.filter { $0.recipient == name }
            return !mine.isEmpty && !mine.contains { if case .failed = $0.outcome { return false } else { return true } }
        }
    }

    static func reason(_ reports: [NotificationReport]) -> String {
        reports.compactMap { r -> String? in
            if case .failed(let why) = r.outcome { return "\(r.recipient) \(r.channel.rawValue): \(why)" }
            return nil
        }.joined(separator: "; ")
    }

    /// When to try again after `attempts` failed passes; nil: give up.
    static func next(after attempts: Int, now: Date) -> Date? {
        guard attempts < maxAttempts else { return nil }
        return now.addingTimeInterval(min(longest, first * pow(2, Double(max(0, attempts - 1)))))
    }
}
