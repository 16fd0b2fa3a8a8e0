import Foundation
import Logging
import MillwrightCore
import Notify

/// mosquitto's `$SYS/broker/publish/messages/dropped`: messages the broker dropped since it
/// started (queue full for an offline or slow client). A rise means acknowledged detections
/// may never reach us.
struct BrokerDropCounter {
    static let topic = "$SYS/broker/publish/messages/dropped"

    private(set) var last: Int?

    /// How many were dropped since the previous reading; `nil` for the first reading (a baseline:
    /// drops before we looked are not news) and after the broker restarted (counter went down).
    mutating func observe(_ payload: String) -> Int? {
        guard let value = Int(payload.trimmingCharacters(in: .whitespacesAndNewlines)), value >= 0 else { return nil }
        defer { last = value }
        guard let last, value > last else { return nil }
        return value - last
    }
}

extension MQTTBridge {
    /// The broker may have lost messages: a warning in the log, a record in the audit trail and
    /// a message to `recipients` (`mqtt.alert`) on their configured channels.
    func raiseBrokerAlert(kind: String, text: String, facts: [OperatorAlert.Fact], recipients: [String], now: Date = Date()) async {
        await gateway.raiseAlert(kind: kind, subject: "mqtt", text: text, facts: facts, recipients: recipients, now: now)
    }
}

extension Gateway {
    /// Something about the gateway itself an operator must hear of: a warning in the log, a
    /// record in the audit trail and a message to `recipients` on their configured channels.
    public func raiseAlert(kind: String, subject: String, text: String, facts: [OperatorAlert.Fact], recipients: [String], now: Date = Date()) async {
        var meta: Logger.Metadata = ["alert": "\(kind)"]
        for f in facts { meta[f.name] = "\(f.value)" }
        logger.warning("\(text)", metadata: meta)
        var data: [String: JSONValue] = ["text": .string(text), "notified": .array(recipients.map { .string($0) })]
        for f in facts { data[f.name] = .string(f.value) }
        do { try await store.recordAlert(kind: kind, subject: subject, data: data, now: now) } catch {
            logger.error("could not record the alert in the audit trail", metadata: ["error": "\(error)"])
        }
        guard !recipients.isEmpty else { return }
        let bus = floorEvents
        let config: NotifierConfiguration
        do {
            config = try NotifierConfiguration(settings.planning.notifications, timeZone: TimeZone(identifier: settings.site.timezone) ?? .gmt,
                                               mqttPublish: { topic, payload in bus.publish(.notification(topic: topic, payload: payload)) })
        } catch {
            logger.error("alert not sent: notifications are misconfigured", metadata: ["error": "\(error)"])
            return
        }
        let notifier = Notifier(configuration: config, logger: logger)
        let reports = await notifier.alert(OperatorAlert(kind: kind, subject: "Millwright: \(text)", text: text, facts: facts),
                                           to: recipients, now: now)
        await notifier.shutdown()
        for r in reports { NotificationService.log(r, logger) }
    }
}
