import Foundation
@testable import Gateway
import Logging
import MillwrightCore
import ServiceLifecycle
import Store
import Testing

/// serve's graceful stop: intake first, then the drain, background work, dispatch, the broker
/// session and the last checkpoint, each finishing before the next is told.
@Suite struct ServicePlanTests {
    /// Stop order as the services saw it.
    actor Log {
        var names: [String] = []
        func add(_ name: String) { names.append(name) }
    }

    /// Waits for its own graceful shutdown, then notes that it stopped.
    struct Fake: Service {
        let name: String
        let log: Log
        func run() async throws {
            try? await gracefulShutdown()
            await log.add(name)
        }
    }

    /// Runs `inner` and notes when it has returned.
    struct Noted: Service {
        let inner: any Service
        let log: Log
        func run() async throws {
            try await inner.run()
            await log.add(String(describing: type(of: inner)))
        }
    }

    static func shutDown(_ services: [any Service]) async throws {
        let group = ServiceGroup(configuration: .init(services: services, logger: Logger(label: "test")))
        await group.triggerGracefulShutdown()
        try await group.run()
    }

    @Test func servicesStopInThePlansOrder() async throws {
        let log = Log()
        func fake(_ name: String) -> Fake { Fake(name: name, log: log) }
        let plan = ServicePlan(intake: [fake("mqtt-intake"), fake("http")], ingest: fake("ingest"),
                               background: [fake("planning"), fake("retention"), fake("notifications"), fake("status-sync")],
                               dispatch: fake("dispatch"), brokerSession: fake("broker"), membership: fake("membership"),
                               last: [fake("checkpoint")])
        try await Self.shutDown(plan.services)
        #expect(await log.names == ["mqtt-intake", "http", "ingest", "planning", "retention", "notifications", "status-sync",
                                    "dispatch", "broker", "membership", "checkpoint"])
    }

    /// The real services return only when told (a service that ends early fails the group) and
    /// in the plan's order; afterwards ingest takes nothing new.
    @Test func theGatewaysServicesStopWhenToldAndIngestStaysClosed() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-plan-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var settings = Settings()
        settings.storage = .sqlite(path: dir + "/db.sqlite")
        settings.assets.cameras = [CameraMapping(camera: "CAM-0", asset: "A0")]
        let gateway = Gateway(settings: settings, store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [], logger: Logger(label: "test"))
        let log = Log()
        let plan = gateway.servicePlan(api: Fake(name: "http", log: Log()))
        try await Self.shutDown(plan.services.map { Noted(inner: $0, log: log) })
        #expect(await log.names == ["Fake", "IngestService", "PlanningRefresh", "EvidenceRetention", "NotificationService",
                                    "StatusSync", "ClockWatch", "OutboxDispatcher", "ClusterMembership"])
        do {
            _ = try await gateway.ingest(body: Data(#"{"camera_id":"CAM-0","defect_class":"crack","confidence":0.9}"#.utf8), format: nil)
            Issue.record("accepted after the drain")
        } catch Gateway.IngestError.shuttingDown {
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func theDrainEndsWhenTheLastCommitInFlightLeaves() {
        var s = DrainState()
        let first = s.enter(), second = s.enter()
        #expect(first && second)
        let drainedAtClose = s.close()
        #expect(!drainedAtClose, "two still in flight")
        let late = s.enter()
        #expect(!late, "closed: nothing new")
        let one = s.leave(), last = s.leave()
        #expect(!one)
        #expect(last, "the last one ends the drain")
        var idle = DrainState()
        let drainedAtOnce = idle.close()
        #expect(drainedAtOnce, "nothing in flight: drained at once")
    }
}
