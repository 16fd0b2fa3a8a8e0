import Logging
import MillwrightCore
import ServiceLifecycle

/// serve's services in one `ServiceGroup`. The group starts them together; on graceful
/// shutdown (SIGTERM, SIGINT) it tells them to stop one at a time, in reverse order of its
/// list, each finishing before the next is told. `stopOrder` is therefore the list reversed:
///
/// 1. intake, in the order given: the MQTT intake stops taking messages and commits and
///    acknowledges the ones it took (the broker keeps the rest for the next session), then
///    the HTTP server stops accepting and finishes its requests in flight;
/// 2. `IngestService` refuses anything new and waits for the last commit in flight;
/// 3. background work: the Sparkplug edge node, planning refresh, evidence retention, notifications, status sync;
/// 4. `OutboxDispatcher`: deliveries in flight still record their outcome;
/// 5. the broker session (`MQTTBridge`): says offline and disconnects, after everything
///    that acknowledges messages or publishes news has stopped;
/// 6. cluster membership: the heartbeat goes on until no claim of this node is in flight,
///    then the node leaves the list;
/// 7. `last`: the audit checkpoint, whose final record then covers all of the above.
public struct ServicePlan: Sendable {
    public let stopOrder: [any Service]

    public init(intake: [any Service], ingest: any Service, background: [any Service], dispatch: any Service,
                brokerSession: (any Service)?, membership: any Service, last: [any Service]) {
        stopOrder = intake + [ingest] + background + [dispatch] + (brokerSession.map { [$0] } ?? []) + [membership] + last
    }

    /// The order `ServiceGroup` wants: the reverse of the stop order.
    public var services: [any Service] { stopOrder.reversed() }

    /// `stopOnSignals`: SIGTERM and SIGINT start the graceful shutdown (serve, demo
    /// --keep-running); otherwise only `triggerGracefulShutdown` does.
    public func group(stopOnSignals: Bool, logger: Logger) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: stopOnSignals ? [.sigterm, .sigint] : [],
                                                      logger: logger)
        // With the database gone, a service finishing its work (an outcome to record) would
        // wait for it forever: the stop escalates to cancellation, then gives up, so SIGTERM
        // always ends the process. What was not recorded is redone after the restart (claims
        // are leased; notifications are at least once).
        configuration.maximumGracefulShutdownDuration = Self.gracefulStopLimit
        configuration.maximumCancellationDuration = Self.cancellationLimit
        return ServiceGroup(configuration: configuration)
    }

    public static let gracefulStopLimit: Duration = .seconds(10)
    public static let cancellationLimit: Duration = .seconds(5)
}

extension Gateway {
    /// The gateway's services around the given transports (`api`: the HTTP server; nil for
    /// commands that only deliver), in the order above.
    /// `sparkplug` is background work: it stops (NDEATH, disconnect) once ingest has stopped.
    public func servicePlan(api: (any Service)?, mqtt: MQTTBridge? = nil, sparkplug: SparkplugService? = nil, last: [any Service] = []) -> ServicePlan {
        var background: [any Service] = sparkplug.map { [$0] } ?? []
        background += [PlanningRefresh(gateway: self), EvidenceRetention(gateway: self), NotificationService(gateway: self), StatusSync(gateway: self),
                       ClockWatch(gateway: self)]
        if let capture { background.append(CaptureService(hub: capture, gateway: self)) }
        return ServicePlan(intake: (mqtt.map { [$0.intake] } ?? []) + (api.map { [$0] } ?? []), ingest: ingestService, background: background,
                           dispatch: OutboxDispatcher(gateway: self), brokerSession: mqtt,
                           membership: ClusterMembership(gateway: self, version: MillwrightVersion.current), last: last)
    }
}
