import Foundation
import Gateway
import Logging
import MillwrightCore
import Notify
import Store
import Testing

/// Notifications are at least once: a recipient none of whose channels took the page is told
/// again with backoff, only they, and `notified_at` is set only when everyone has heard.
@Suite struct NotificationRetryTests {
    let t = Date(timeIntervalSince1970: 1_800_000_000)

    /// A delivered work order for CAM-0 that must be told to `ann` (a dead webhook) and `bob`
    /// (a working channel), on a gateway whose notifier is driven by hand.
    func setUp(annAlsoOnMQTT: Bool = false) async throws -> (Gateway, Notifier, String) {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-0", asset: "A0", cmms: "sb")]
        s.priority = [PriorityRule(condition: .always, priority: .high, notify: ["ann", "bob"])]
        var ann = RecipientSettings(name: "ann")
        ann.webhook = "http://127.0.0.1:1/hook"      // nothing listens on port 1
        if annAlsoOnMQTT { ann.mqttTopic = "people/ann" }
        var bob = RecipientSettings(name: "bob")
        bob.mqttTopic = "people/bob"
        s.planning.notifications.recipients = ["ann": ann, "bob": bob]
        s.planning.notifications.throttle = .init(maxPerWindow: 100, window: 3600, bypassAt: .critical, digestAtOrBelow: nil)
        s.planning.escalation.chains[.high] = [EscalationStage(recipients: ["bob"], delay: 900)]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-notify-\(UUID().uuidString)").path
        let store = try Store(path: dir + "/db.sqlite")
        let gateway = Gateway(settings: s, store: store, register: nil, connectors: [], logger: Logger(label: "test"))
        let out = try await store.ingest([Detection(detectionId: "d1", cameraId: "CAM-0", timestamp: t, defectClass: "crack", confidence: 0.9)],
                                         rules: gateway.rules, now: t)
        let wo = try #require(out[0].workOrderId)
        let claim = try #require(try await store.claimDue(cmms: "sb", limit: 1, now: t).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim.fence, action: .create, outcome: .created(cmmsId: "7"), duration: 0.01,
                                           policy: DispatchPolicy(), jitter: 0, now: t)
        let config = try NotifierConfiguration(s.planning.notifications, timeZone: .gmt, httpTimeout: .seconds(2), mqttPublish: { _, _ in })
        return (gateway, Notifier(configuration: config, logger: Logger(label: "test")), wo)
    }

    @Test func anUntoldRecipientIsRetriedAloneUntilTheGatewayGivesUpAndEscalates() async throws {
        let (gateway, notifier, wo) = try await setUp()
        defer { Task { await notifier.shutdown() } }
        _ = await NotificationService(gateway: gateway).tick(notifier, now: t + 1)
        var view = try #require(try await gateway.store.workOrder(id: wo))
        #expect(view.notifiedAt == nil, "ann was not told")
        #expect(view.notificationError?.contains("ann webhook") == true, "\(view.notificationError ?? "")")
        #expect(try await gateway.store.workOrdersToNotify(now: t + 2, limit: 100).isEmpty, "not before the backoff")
        let retry = try #require(try await gateway.store.workOrdersToNotify(now: t + 32, limit: 100).first)
        #expect(retry.recipients == ["ann"], "bob heard it already")
        // Every later pass fails too: after twelve the gateway gives up, says so, and escalates.
        // (The look above claimed it for a lease, as a notifier does: the next pass comes after.)
        var now = t + 32 + gateway.store.lease, passes = 1
        while try await gateway.store.workOrder(id: wo)?.notificationGaveUpAt == nil, passes < 20 {
            _ = await NotificationService(gateway: gateway).tick(notifier, now: now)
            passes += 1
            now += 3600
        }
        #expect(passes == 12)
        view = try #require(try await gateway.store.workOrder(id: wo))
        #expect(view.notifiedAt == nil)
        #expect(view.notificationGaveUpAt != nil)
        #expect(view.notificationError?.hasPrefix("gave up") == true)
        #expect(try await gateway.store.dueEscalations(now: now + 100_000, limit: 100).count == 1, "the escalation chain is the safety net")
    }

    @Test func oneChannelThatTakesItIsEnough() async throws {
        let (gateway, notifier, wo) = try await setUp(annAlsoOnMQTT: true)
        defer { Task { await notifier.shutdown() } }
        _ = await NotificationService(gateway: gateway).tick(notifier, now: t + 1)
        let view = try #require(try await gateway.store.workOrder(id: wo))
        #expect(view.notifiedAt != nil)
        #expect(view.notificationError == nil)
    }
}
