import AsyncHTTPClient
import Foundation
import Logging
import MillwrightCore
import NIOCore

/// Someone (a technician, "supervisor", "storeroom") and every channel they are reached on.
/// Each configured channel gets each message.
public struct Recipient: Sendable, Equatable, CustomStringConvertible {
    /// The name rules and routing use: "T-114", "supervisor", "storeroom".
    public var name: String
    /// Shown in the e-mail `To:` header ("A. Ortiz").
    public var displayName: String?
    public var email: String?
    public var webhook: String?
    public var webhookFlavor: WebhookBody.Flavor
    /// When set, webhook bodies are signed (see `WebhookSigner`).
    public var webhookSecret: String?
    public var mqttTopic: String?

    public init(name: String, displayName: String? = nil, email: String? = nil, webhook: String? = nil,
                webhookFlavor: WebhookBody.Flavor = .generic, webhookSecret: String? = nil, mqttTopic: String? = nil) {
        self.name = name; self.displayName = displayName; self.email = email; self.webhook = webhook
        self.webhookFlavor = webhookFlavor; self.webhookSecret = webhookSecret; self.mqttTopic = mqttTopic
    }

    /// Interpolating a recipient into a log line must not leak the signing secret or the
    /// credential a chat webhook URL carries.
    public var description: String {
        var parts = ["name: \(name)"]
        if let email { parts.append("email: \(email)") }
        if let webhook { parts.append("webhook: \(WebhookSigner.redacted(webhook)) (\(webhookFlavor.rawValue)\(webhookSecret == nil ? "" : ", signed"))") }
        if let mqttTopic { parts.append("mqtt: \(mqttTopic)") }
        return "Recipient(\(parts.joined(separator: ", ")))"
    }
}

public struct NotifierConfiguration: Sendable {
    /// Publishes one payload (QoS 1) on the gateway's MQTT connection.
    public typealias MQTTPublish = @Sendable (_ topic: String, _ payload: [UInt8]) async throws -> Void

    public struct Email: Sendable {
        public var smtp: SMTPConfiguration
        public var from: Mailbox
        public init(smtp: SMTPConfiguration, from: Mailbox) { self.smtp = smtp; self.from = from }
    }

    public var recipients: [String: Recipient]
    /// nil: recipients with an e-mail address get a `.failed` report saying SMTP is not configured.
    public var email: Email?
    public var throttle: NotificationThrottle.Policy
    /// The site's zone: the daily digest goes out at `throttle.digestTime` local time.
    public var timeZone: TimeZone
    /// Per webhook request, connect to last byte.
    public var httpTimeout: TimeAmount
    public var mqttPublish: MQTTPublish?

    /// A name given twice keeps the last entry (configuration validation reports duplicates).
    public init(recipients: [Recipient], email: Email? = nil, throttle: NotificationThrottle.Policy = .init(), timeZone: TimeZone,
                httpTimeout: TimeAmount = .seconds(10), mqttPublish: MQTTPublish? = nil) {
        self.recipients = Dictionary(recipients.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.email = email; self.throttle = throttle; self.timeZone = timeZone; self.httpTimeout = httpTimeout
        self.mqttPublish = mqttPublish
    }
}

/// What happened to one message on one channel, for the audit trail.
public struct NotificationReport: Sendable, Equatable {
    public enum Channel: String, Sendable, Codable {
        case email, webhook, mqtt
        /// Held for the low-priority daily digest.
        case digest
        /// Held by the per-recipient rate limit; goes out combined with others when it frees up.
        case deferred
        /// No channel could be chosen: unknown recipient, or one with no channel configured.
        case unrouted
    }
    public enum Outcome: Sendable, Equatable {
        case sent
        case held(until: Date)
        case failed(String)
    }
    public var recipient: String
    public var channel: Channel
    public var workOrderIDs: [String]
    public var outcome: Outcome
    /// Where it went: the address, the webhook URL without its credential part, the topic.
    public var target: String?

    public init(recipient: String, channel: Channel, workOrderIDs: [String], outcome: Outcome, target: String? = nil) {
        self.recipient = recipient; self.channel = channel; self.workOrderIDs = workOrderIDs; self.outcome = outcome; self.target = target
    }
}

/// What the gateway persists so held digests survive a restart. The held notifications' full
/// content travels in the throttle's items, so nothing else is needed to send them later.
public struct NotifierState: Sendable, Equatable, Codable {
    public var throttle: NotificationThrottle
    public init(throttle: NotificationThrottle) { self.throttle = throttle }
}

/// Delivers work-order notifications, digests and pick lists to recipients over e-mail,
/// webhooks and MQTT. Never throws: every outcome, failures included, is a `NotificationReport`.
///
/// HTTP client ownership: pass the gateway's `HTTPClient` and keep owning it (shut it down
/// yourself; make it with `Notifier.httpClientConfiguration` so no redirect is followed), or pass
/// nil and the notifier makes its own on first webhook use; then call `shutdown()` before
/// dropping the notifier.
public actor Notifier {
    public let configuration: NotifierConfiguration
    private var throttle: NotificationThrottle
    private let givenHTTPClient: HTTPClient?
    private var ownHTTPClient: HTTPClient?
    private let smtp: SMTPClient?
    private let logger: Logger

    /// Webhook receivers are configured by URL; a redirect could send the body (and its
    /// signature) to another host, so redirects are reported, never followed.
    public static var httpClientConfiguration: HTTPClient.Configuration {
        var c = HTTPClient.Configuration()
        c.redirectConfiguration = .disallow
        return c
    }

    /// `state`: what `state` returned before a restart. The configured policy replaces the
    /// persisted one; the persisted time zone stays until the held items drain.
    public init(configuration: NotifierConfiguration, state: NotifierState? = nil, httpClient: HTTPClient? = nil,
                logger: Logger = Logger(label: "millwright.notify")) {
        self.configuration = configuration
        var throttle = state?.throttle ?? NotificationThrottle(policy: configuration.throttle, timeZone: configuration.timeZone)
        throttle.policy = configuration.throttle
        throttle.timeZone = configuration.timeZone
        self.throttle = throttle
        self.givenHTTPClient = httpClient
        self.smtp = configuration.email.map { SMTPClient(configuration: $0.smtp, logger: logger) }
        self.logger = logger
    }

    public var state: NotifierState { NotifierState(throttle: throttle) }

    /// Replaces the held state with `state` (this node's merged with a gone node's); the
    /// configured policy and zone stay, as at `init`.
    public func restore(_ state: NotifierState) {
        var t = state.throttle
        t.policy = configuration.throttle
        t.timeZone = configuration.timeZone
        throttle = t
    }

    /// When `releaseDue` next has something to send (for the caller's timer).
    public var nextRelease: Date? { throttle.nextRelease }

    /// Closes the HTTP client the notifier made for itself (not one that was passed in).
    public func shutdown() async {
        try? await ownHTTPClient?.shutdown()
        ownHTTPClient = nil
    }

    /// Per recipient: send now on all channels, hold for the daily digest, or defer (rate limit).
    /// A critical notification always goes through. A name listed twice is notified once.
    public func notify(_ n: WorkOrderNotification, to recipients: [String], priority: Priority, now: Date) async -> [NotificationReport] {
        let item = Self.encode(n)
        var slots: [Slot] = []
        var immediate: [String] = []
        for name in Self.unique(recipients) {
            let ids = [n.workOrderID]
            guard let r = route(name, ids: ids, into: &slots) else { continue }
            switch throttle.submit(recipient: name, item: item, priority: priority, now: now) {
            case .sendNow:
                immediate.append(name)
                slots += deliveries(to: r, Outgoing(n), now: now)
            case .digest(let at):
                slots.append(.done(NotificationReport(recipient: name, channel: .digest, workOrderIDs: ids, outcome: .held(until: at))))
            case .deferred(let until):
                slots.append(.done(NotificationReport(recipient: name, channel: .deferred, workOrderIDs: ids, outcome: .held(until: until))))
            }
        }
        let reports = await run(slots)
        for name in immediate where reports.contains(where: { $0.recipient == name && $0.outcome == .sent }) {
            throttle.delivered(recipient: name, at: now)
        }
        return reports
    }

    /// Sends everything the throttle releases at `now`: one digest message per recipient and channel.
    public func releaseDue(now: Date) async -> [NotificationReport] {
        var slots: [Slot] = []
        for (name, items) in throttle.due(now: now) {
            var notes: [WorkOrderNotification] = []
            for item in Self.unique(items) {
                if let n = Self.decode(item) { notes.append(n) } else {
                    slots.append(.done(NotificationReport(recipient: name, channel: .digest, workOrderIDs: [],
                                                          outcome: .failed("a held notification could not be read back from the saved state (\(item.utf8.count) bytes); it is dropped"))))
                }
            }
            guard !notes.isEmpty, let r = route(name, ids: notes.map(\.workOrderID), into: &slots) else { continue }
            slots += deliveries(to: r, Outgoing(NotificationDigest(items: notes)), now: now)
        }
        return await run(slots)
    }

    /// The parts to pre-stage, to the storeroom (or whoever is named). Never throttled: it is a
    /// work instruction, not an alert.
    public func pickList(_ p: PickList, to recipients: [String], now: Date) async -> [NotificationReport] {
        var slots: [Slot] = []
        for name in Self.unique(recipients) {
            guard let r = route(name, ids: [p.workOrderID], into: &slots) else { continue }
            slots += deliveries(to: r, Outgoing(p), now: now)
        }
        return await run(slots)
    }

    /// A message about the gateway itself, to each recipient on all their channels at once.
    public func alert(_ a: OperatorAlert, to recipients: [String], now: Date) async -> [NotificationReport] {
        var slots: [Slot] = []
        for name in Self.unique(recipients) {
            guard let r = route(name, ids: [], into: &slots) else { continue }
            slots += deliveries(to: r, Outgoing(a), now: now)
        }
        return await run(slots)
    }

    // MARK: - Routing

    /// A message before it is shaped for a channel.
    struct Outgoing {
        var subject: String
        var text: String
        var card: WebhookCard
        var workOrderIDs: [String]

        init(_ n: WorkOrderNotification) { subject = n.headline; text = n.plainText; card = n.card; workOrderIDs = [n.workOrderID] }
        init(_ d: NotificationDigest) { subject = d.subject; text = d.plainText; card = d.card; workOrderIDs = d.items.map(\.workOrderID) }
        init(_ p: PickList) { subject = p.subject; text = p.plainText; card = p.card; workOrderIDs = [p.workOrderID] }
        init(_ a: OperatorAlert) { subject = a.subject; text = a.plainText; card = a.card; workOrderIDs = [] }
    }

    enum Delivery: Sendable {
        case email(EmailMessage)
        case webhook(url: String, body: [UInt8], secret: String?, timestamp: Date)
        case mqtt(topic: String, payload: [UInt8])
    }

    enum Slot: Sendable {
        case done(NotificationReport)
        case pending(recipient: String, workOrderIDs: [String], Delivery)
    }

    /// The recipient, or nil after recording why nothing can be sent to `name`.
    private func route(_ name: String, ids: [String], into slots: inout [Slot]) -> Recipient? {
        guard let r = configuration.recipients[name] else {
            let known = configuration.recipients.keys.sorted().joined(separator: ", ")
            slots.append(.done(NotificationReport(recipient: name, channel: .unrouted, workOrderIDs: ids,
                                                  outcome: .failed("unknown recipient '\(name)' (configured: \(known.isEmpty ? "none" : known))"))))
            return nil
        }
        guard r.email != nil || r.webhook != nil || r.mqttTopic != nil else {
            slots.append(.done(NotificationReport(recipient: name, channel: .unrouted, workOrderIDs: ids,
                                                  outcome: .failed("recipient '\(name)' has no e-mail, webhook or MQTT topic configured"))))
            return nil
        }
        return r
    }

    private func deliveries(to r: Recipient, _ m: Outgoing, now: Date) -> [Slot] {
        var out: [Slot] = []
        func pending(_ d: Delivery) { out.append(.pending(recipient: r.name, workOrderIDs: m.workOrderIDs, d)) }
        func failed(_ channel: NotificationReport.Channel, _ target: String, _ why: String) {
            out.append(.done(NotificationReport(recipient: r.name, channel: channel, workOrderIDs: m.workOrderIDs, outcome: .failed(why), target: target)))
        }
        if let address = r.email {
            if let email = configuration.email {
                var message = EmailMessage(from: email.from, to: [Mailbox(address, name: r.displayName)], subject: m.subject, text: m.text, date: now)
                // RFC 3834: tells vacation responders not to answer a machine.
                message.extraHeaders = [("Auto-Submitted", "auto-generated")]
                if !m.workOrderIDs.isEmpty { message.extraHeaders.append(("X-Millwright-Work-Orders", m.workOrderIDs.joined(separator: ", "))) }
                pending(.email(message))
            } else {
                failed(.email, address, "no SMTP server is configured, so e-mail to \(address) cannot be sent")
            }
        }
        if let url = r.webhook {
            pending(.webhook(url: url, body: WebhookBody.render(m.card, flavor: r.webhookFlavor), secret: r.webhookSecret, timestamp: now))
        }
        if let topic = r.mqttTopic {
            if configuration.mqttPublish != nil {
                pending(.mqtt(topic: topic, payload: WebhookBody.render(m.card, flavor: .generic)))
            } else {
                failed(.mqtt, topic, "no MQTT broker is configured, so topic \(topic) cannot be published to")
            }
        }
        return out
    }

    // MARK: - Sending

    private func httpClient() -> HTTPClient {
        if let c = givenHTTPClient ?? ownHTTPClient { return c }
        let c = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.httpClientConfiguration)
        ownHTTPClient = c
        return c
    }

    /// All deliveries at once (a slow SMTP relay must not delay the page to the supervisor);
    /// reports in the order the slots were made.
    private func run(_ slots: [Slot]) async -> [NotificationReport] {
        let needsHTTP = slots.contains { if case .pending(_, _, .webhook) = $0 { return true } else { return false } }
        let context = SendContext(smtp: smtp, http: needsHTTP ? httpClient() : nil, httpTimeout: configuration.httpTimeout,
                                  mqttPublish: configuration.mqttPublish, logger: logger)
        var reports = [NotificationReport?](repeating: nil, count: slots.count)
        await withTaskGroup(of: (Int, NotificationReport).self) { group in
            for (i, slot) in slots.enumerated() {
                switch slot {
                case .done(let report): reports[i] = report
                case .pending(let recipient, let ids, let delivery):
                    group.addTask { (i, await context.send(delivery, recipient: recipient, workOrderIDs: ids)) }
                }
            }
            for await (i, report) in group { reports[i] = report }
        }
        return reports.compactMap { $0 }
    }

    static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    static func encode(_ n: WorkOrderNotification) -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys   // equal notifications give equal items (deduplicated in the digest)
        // Strings, numbers and dates only: encoding cannot fail.
        return (try? e.encode(n)).map { String(decoding: $0, as: UTF8.self) } ?? n.workOrderID
    }

    static func decode(_ item: String) -> WorkOrderNotification? {
        try? JSONDecoder().decode(WorkOrderNotification.self, from: Data(item.utf8))
    }
}

/// What the concurrent senders need, without touching the actor.
struct SendContext: Sendable {
    var smtp: SMTPClient?
    var http: HTTPClient?
    var httpTimeout: TimeAmount
    var mqttPublish: NotifierConfiguration.MQTTPublish?
    var logger: Logger

    func send(_ delivery: Notifier.Delivery, recipient: String, workOrderIDs: [String]) async -> NotificationReport {
        let (channel, target, problem): (NotificationReport.Channel, String, String?)
        switch delivery {
        case .email(let message):
            target = message.to.map(\.address).joined(separator: ", ")
            channel = .email
            problem = await email(message)
        case .webhook(let url, let body, let secret, let timestamp):
            target = WebhookSigner.redacted(url)
            channel = .webhook
            problem = await webhook(url, body: body, secret: secret, timestamp: timestamp)
        case .mqtt(let topic, let payload):
            target = topic
            channel = .mqtt
            problem = await mqtt(topic, payload)
        }
        var meta: Logger.Metadata = ["recipient": "\(recipient)", "channel": "\(channel.rawValue)", "target": "\(target)",
                                     "work_orders": "\(workOrderIDs.joined(separator: ","))"]
        if let problem {
            meta["problem"] = "\(problem)"
            logger.warning("notification failed", metadata: meta)
        } else {
            logger.debug("notification sent", metadata: meta)
        }
        return NotificationReport(recipient: recipient, channel: channel, workOrderIDs: workOrderIDs,
                                  outcome: problem.map { .failed($0) } ?? .sent, target: target)
    }

    private func email(_ message: EmailMessage) async -> String? {
        guard let smtp else { return "no SMTP server is configured" }
        let server = "SMTP \(smtp.configuration.host):\(smtp.configuration.port)"
        do {
            _ = try await smtp.send(message)
            return nil
        } catch {
            if case .connectFailed(let why) = error {
                let prefix = "\(smtp.configuration.host):\(smtp.configuration.port): "
                return "\(server): \(Self.networkReason(why) ?? (why.hasPrefix(prefix) ? String(why.dropFirst(prefix.count)) : why))"
            }
            return "\(server): \(error)"
        }
    }

    /// The phrase a person recognises, out of NIO's "connection reset (error set): Connection
    /// refused (errno: 111)" style descriptions.
    static func networkReason(_ description: String) -> String? {
        let lower = description.lowercased()
        return ["connection refused", "connection reset", "no route to host", "network is unreachable", "connect timeout",
                "name resolution", "certificate"].first { lower.contains($0) }
    }

    private func webhook(_ url: String, body: [UInt8], secret: String?, timestamp: Date) async -> String? {
        let shown = "webhook \(WebhookSigner.redacted(url))"
        guard let http else { return "\(shown): no HTTP client" }
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme), u.host != nil else {
            return "\(shown): not an http(s) URL"
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Millwright")
        if let secret {
            for (name, value) in WebhookSigner.headers(body: body, secret: secret, timestamp: timestamp) { request.headers.add(name: name, value: value) }
        }
        request.body = .bytes(body)
        do {
            let response = try await http.execute(request, timeout: httpTimeout)
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return nil }
            if (300..<400).contains(status) {
                let to = response.headers.first(name: "Location").map { " to \(WebhookSigner.redacted($0))" } ?? ""
                return "\(shown) answered \(status) (redirect\(to) not followed: configure the final URL)"
            }
            // Chat services say what is wrong in a short body ("invalid_payload", "no_text").
            let text = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
            let snippet = text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
            return "\(shown) answered \(status)\(snippet.isEmpty ? "" : ": \(snippet)")"
        } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
            return "\(shown): no answer within \(httpTimeout.nanoseconds / 1_000_000) ms"
        } catch {
            return "\(shown): \(Self.networkReason("\(error)") ?? "\(error)")"
        }
    }

    private func mqtt(_ topic: String, _ payload: [UInt8]) async -> String? {
        guard let mqttPublish else { return "no MQTT broker is configured" }
        do {
            try await mqttPublish(topic, payload)
            return nil
        } catch {
            return "MQTT publish to \(topic) failed: \(error)"
        }
    }
}
