import Crypto
import Foundation
import MillwrightCore
import NIOCore
import Testing
@testable import Notify

private func utc(_ s: String) -> Date { ISO8601DateFormatter().date(from: s)! }

private func note(_ id: String, priority: String = "high", stage: Int = 0) -> WorkOrderNotification {
    WorkOrderNotification(workOrderID: id, title: "Crack on head pulley", priority: priority, asset: "10004712",
                          location: "Line 2 / Conveyor 3", defectClass: "crack", severity: 72, assignee: "T-114 A. Ortiz",
                          assignmentReason: "mechanical, on shift B, same area line-2",
                          evidenceURL: "https://mw.plant.example/evidence/\(id).jpg", workOrderURL: "https://cmms.example/wo/\(id)",
                          detectedAt: utc("2026-11-18T13:58:00Z"), stage: stage)
}

/// Stands in for the gateway's MQTT client.
private actor MQTTRecorder {
    struct Message: Sendable {
        var topic: String
        var bytes: [UInt8]
        var payload: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:] }
    }
    var published: [Message] = []
    var failWith: String?
    func record(_ topic: String, _ payload: [UInt8]) throws {
        if let failWith { throw Failure(description: failWith) }
        published.append(Message(topic: topic, bytes: payload))
    }
    func fail(_ why: String?) { failWith = why }
    struct Failure: Error, CustomStringConvertible { var description: String }
    nonisolated var publish: NotifierConfiguration.MQTTPublish { { topic, payload in try await self.record(topic, payload) } }
}

/// One received e-mail, unfolded and decoded (RFC 2047 subject, base64 body).
private struct ReceivedMail {
    var headers: [String: String] = [:]
    var body = ""
    init(_ raw: String) {
        let parts = raw.components(separatedBy: "\r\n\r\n")
        for line in parts[0].replacingOccurrences(of: "\r\n ", with: " ").components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[String(line[..<colon]).lowercased()] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        let rest = parts.dropFirst().joined(separator: "\r\n\r\n")
        body = headers["content-transfer-encoding"] == "base64"
            ? String(decoding: Data(base64Encoded: rest.replacingOccurrences(of: "\r\n", with: "")) ?? Data(), as: UTF8.self)
            : rest.replacingOccurrences(of: "\r\n", with: "\n")
    }
    var subject: String {
        let v = headers["subject"] ?? ""
        guard v.hasPrefix("=?UTF-8?B?") else { return v }
        let bytes = v.split(separator: " ").flatMap { Data(base64Encoded: String($0.dropFirst(10).dropLast(2))) ?? Data() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

@Suite(.serialized) struct NotifierTests {
    let t0 = utc("2026-11-18T14:00:00Z")

    func config(_ recipients: [Recipient], smtpPort: Int? = nil, policy: NotificationThrottle.Policy = .init(),
                zone: String = "Europe/Berlin", timeout: TimeAmount = .seconds(5), mqtt: NotifierConfiguration.MQTTPublish? = nil) -> NotifierConfiguration {
        NotifierConfiguration(recipients: recipients,
                              email: smtpPort.map { .init(smtp: SMTPConfiguration(host: "127.0.0.1", port: $0, security: .plain, replyTimeout: .seconds(10)),
                                                          from: Mailbox("millwright@plant.example", name: "Millwright")) },
                              throttle: policy, timeZone: TimeZone(identifier: zone)!, httpTimeout: timeout, mqttPublish: mqtt)
    }

    @Test func webhookFlavorsArriveAndTheSignatureVerifies() async throws {
        let receiver = try await WebhookReceiver()
        let notifier = Notifier(configuration: config([
            Recipient(name: "T-114", webhook: receiver.url("/slack"), webhookFlavor: .slack),
            Recipient(name: "supervisor", webhook: receiver.url("/teams"), webhookFlavor: .teams, webhookSecret: "s3cret-key"),
            Recipient(name: "line-lead", webhook: receiver.url("/adaptive"), webhookFlavor: .teamsAdaptive),
            Recipient(name: "node-red", webhook: receiver.url("/generic"), webhookFlavor: .generic, webhookSecret: "other"),
        ]))
        let reports = await notifier.notify(note("WO-1042", priority: "critical"), to: ["T-114", "supervisor", "line-lead", "node-red"],
                                            priority: .critical, now: t0)
        await notifier.shutdown()
        await receiver.close()
        #expect(reports.map(\.recipient) == ["T-114", "supervisor", "line-lead", "node-red"])
        #expect(reports.allSatisfy { $0.channel == .webhook && $0.outcome == .sent && $0.workOrderIDs == ["WO-1042"] })

        let byPath = Dictionary(uniqueKeysWithValues: receiver.requests.map { ($0.uri, $0) })
        #expect(byPath.count == 4)
        #expect(byPath.values.allSatisfy { $0.method == .POST && $0.headers["Content-Type"] == ["application/json"] })
        #expect((byPath["/slack"]?.json["text"] as? String)?.hasPrefix("[CRITICAL] WO-1042: Crack on head pulley") == true)
        #expect(byPath["/teams"]?.json["@type"] as? String == "MessageCard")
        #expect((byPath["/adaptive"]?.json["attachments"] as? [[String: Any]])?.first?["contentType"] as? String == "application/vnd.microsoft.card.adaptive")
        #expect(byPath["/generic"]?.json["work_order_id"] as? String == "WO-1042")
        #expect(byPath["/slack"]?.headers["X-Millwright-Signature"] == [])

        // Verified the way a receiver would: HMAC over "timestamp.body" with the shared secret.
        for (path, secret) in [("/teams", "s3cret-key"), ("/generic", "other")] {
            let r = try #require(byPath[path])
            let ts = try #require(r.headers["X-Millwright-Timestamp"].first)
            #expect(ts == String(Int(t0.timeIntervalSince1970)))
            let mac = HMAC<SHA256>.authenticationCode(for: Array((ts + ".").utf8) + r.body, using: SymmetricKey(data: Data(secret.utf8)))
            #expect(r.headers["X-Millwright-Signature"] == ["v1=" + mac.map { String(format: "%02x", $0) }.joined()])
        }
    }

    @Test func webhookFailuresBecomeReportsThatNameTheReceiver() async throws {
        let receiver = try await WebhookReceiver()
        let closed = try await WebhookReceiver()
        let deadPort = closed.port
        await closed.close()
        let notifier = Notifier(configuration: config([
            Recipient(name: "down", webhook: receiver.url("/fail/T0000/B0000/XXXXsecret"), webhookSecret: "never-shown"),
            Recipient(name: "moved", webhook: receiver.url("/redirect")),
            Recipient(name: "gone", webhook: "http://127.0.0.1:\(deadPort)/hook"),
            Recipient(name: "slow", webhook: receiver.url("/silent")),
            Recipient(name: "typo", webhook: "hooks.slack.com/services/x"),
        ], timeout: .milliseconds(500)))
        let reports = await notifier.notify(note("WO-7"), to: ["down", "moved", "gone", "slow", "typo"], priority: .high, now: t0)
        await notifier.shutdown()
        await receiver.close()
        func failure(_ who: String) -> String {
            guard case .failed(let why)? = reports.first(where: { $0.recipient == who })?.outcome else { return "not failed" }
            return why
        }
        #expect(failure("down") == "webhook http://127.0.0.1:\(receiver.port)/fail/… answered 500: boom: receiver is down")
        #expect(failure("moved").contains("answered 302 (redirect to http://127.0.0.2:1/capture/… not followed"))
        #expect(failure("gone") == "webhook http://127.0.0.1:\(deadPort)/hook: connection refused")
        #expect(failure("slow") == "webhook http://127.0.0.1:\(receiver.port)/silent: no answer within 500 ms")
        #expect(failure("typo").hasSuffix("not an http(s) URL"))
        // The redirect was not followed: one request per reachable receiver, none elsewhere.
        #expect(receiver.requests.map(\.uri).sorted() == ["/fail/T0000/B0000/XXXXsecret", "/redirect", "/silent"])
        // Neither the signing secret nor the credential part of the URL reaches the audit trail.
        for r in reports { #expect(!"\(r)".contains("never-shown") && !"\(r)".contains("XXXXsecret")) }
    }

    @Test func emailViaAiosmtpdIncludingEscalationAndAnSMTPOutage() async throws {
        let server = try await AiosmtpdServer()
        let recipients = [Recipient(name: "T-114", displayName: "A. Ortiz", email: "t114@plant.example"),
                          Recipient(name: "supervisor", email: "sup@plant.example")]
        let notifier = Notifier(configuration: config(recipients, smtpPort: server.port))
        let first = await notifier.notify(note("WO-1042"), to: ["T-114"], priority: .high, now: t0)
        #expect(first == [NotificationReport(recipient: "T-114", channel: .email, workOrderIDs: ["WO-1042"], outcome: .sent, target: "t114@plant.example")])
        let escalation = await notifier.notify(note("WO-1042", stage: 2), to: ["supervisor"], priority: .high, now: t0.addingTimeInterval(1800))
        #expect(escalation.map(\.outcome) == [.sent])

        let mails = try server.messages()
        #expect(mails.count == 2)
        #expect(mails.map { $0.meta["rcpt_tos"] as? [String] ?? [] } == [["t114@plant.example"], ["sup@plant.example"]])
        let m = ReceivedMail(mails[0].raw)
        #expect(m.subject == "[HIGH] WO-1042: Crack on head pulley")
        #expect(m.headers["to"] == "\"A. Ortiz\" <t114@plant.example>")
        #expect(m.headers["auto-submitted"] == "auto-generated")
        #expect(m.body.contains("Why: mechanical, on shift B, same area line-2"))
        #expect(m.body.contains("Evidence: https://mw.plant.example/evidence/WO-1042.jpg"))
        #expect(m.body.contains("Work order: https://cmms.example/wo/WO-1042"))
        let e = ReceivedMail(mails[1].raw)
        #expect(e.subject == "ESCALATION (stage 2): not acknowledged - [HIGH] WO-1042: Crack on head pulley")
        #expect(e.body.hasPrefix("ESCALATION (stage 2): not acknowledged"))

        // The relay is down: a report a person can act on, nothing thrown, nothing crashed.
        let down = Notifier(configuration: config(recipients, smtpPort: 1))
        let failed = await down.notify(note("WO-1043"), to: ["T-114"], priority: .high, now: t0)
        #expect(failed.map(\.outcome) == [.failed("SMTP 127.0.0.1:1: connection refused")])
        // No relay configured at all.
        let none = await Notifier(configuration: config(recipients)).notify(note("WO-1044"), to: ["T-114"], priority: .high, now: t0)
        #expect(none.map(\.outcome) == [.failed("no SMTP server is configured, so e-mail to t114@plant.example cannot be sent")])
    }

    @Test func sixthWithinTheHourIsDeferredThenSentAsOneCombinedMessage() async throws {
        let mqtt = MQTTRecorder()
        let notifier = Notifier(configuration: config([Recipient(name: "T-114", mqttTopic: "plant/notify/T-114")],
                                                      policy: .init(maxPerWindow: 5, window: 3600), mqtt: mqtt.publish))
        for i in 1...5 {
            let r = await notifier.notify(note("WO-\(i)"), to: ["T-114"], priority: .high, now: t0.addingTimeInterval(Double(i - 1) * 60))
            #expect(r.map(\.outcome) == [.sent])
        }
        let until = t0.addingTimeInterval(3600)
        #expect(await notifier.notify(note("WO-6"), to: ["T-114"], priority: .high, now: t0.addingTimeInterval(300))
            == [NotificationReport(recipient: "T-114", channel: .deferred, workOrderIDs: ["WO-6"], outcome: .held(until: until))])
        #expect(await notifier.notify(note("WO-7", priority: "medium"), to: ["T-114"], priority: .medium, now: t0.addingTimeInterval(400)).map(\.outcome)
            == [.held(until: until)])
        // A critical page is never held back.
        #expect(await notifier.notify(note("WO-8", priority: "critical"), to: ["T-114"], priority: .critical, now: t0.addingTimeInterval(500)).map(\.outcome)
            == [.sent])
        #expect(await mqtt.published.count == 6)
        #expect(await notifier.nextRelease == until)

        #expect(await notifier.releaseDue(now: until.addingTimeInterval(-1)).isEmpty)
        let released = await notifier.releaseDue(now: until)
        #expect(released == [NotificationReport(recipient: "T-114", channel: .mqtt, workOrderIDs: ["WO-6", "WO-7"], outcome: .sent, target: "plant/notify/T-114")])
        let published = await mqtt.published
        #expect(published.count == 7)
        #expect(published.last?.payload["event"] as? String == "digest")
        #expect((published.last?.payload["work_orders"] as? [[String: Any]])?.compactMap { $0["work_order_id"] as? String } == ["WO-6", "WO-7"])
        #expect(await notifier.nextRelease == nil)
        #expect(await notifier.releaseDue(now: until.addingTimeInterval(7200)).isEmpty)
    }

    @Test func lowPriorityGoesIntoOneDailyDigestAtSiteLocalTime() async throws {
        let server = try await AiosmtpdServer()
        let receiver = try await WebhookReceiver()
        // Chicago is UTC-6 in November: 07:30 local is 13:30Z.
        let notifier = Notifier(configuration: config([Recipient(name: "T-114", email: "t114@plant.example", webhook: receiver.url("/digest"))],
                                                      smtpPort: server.port, policy: .init(digestTime: LocalTime(hour: 7, minute: 30)),
                                                      zone: "America/Chicago"))
        let at = utc("2026-11-19T13:30:00Z")
        for (i, id) in ["WO-21", "WO-22"].enumerated() {
            let r = await notifier.notify(note(id, priority: "low"), to: ["T-114"], priority: .low, now: t0.addingTimeInterval(Double(i) * 600))
            #expect(r == [NotificationReport(recipient: "T-114", channel: .digest, workOrderIDs: [id], outcome: .held(until: at))])
        }
        #expect(await notifier.nextRelease == at)
        #expect(await notifier.releaseDue(now: at.addingTimeInterval(-1)).isEmpty)
        #expect(try server.messages().isEmpty && receiver.requests.isEmpty)

        let released = await notifier.releaseDue(now: at)
        await notifier.shutdown()
        await receiver.close()
        #expect(released.map(\.channel) == [.email, .webhook])
        #expect(released.allSatisfy { $0.outcome == .sent && $0.workOrderIDs == ["WO-21", "WO-22"] })
        let mails = try server.messages()
        #expect(mails.count == 1)
        let m = ReceivedMail(mails[0].raw)
        #expect(m.subject == "Millwright digest: 2 work orders")
        #expect(m.body.contains("[LOW] WO-21: Crack on head pulley") && m.body.contains("[LOW] WO-22: Crack on head pulley"))
        #expect(receiver.requests.count == 1)
        #expect(receiver.requests.first?.json["count"] as? Int == 2)
    }

    @Test func exportedStateKeepsHeldDigestsAcrossARestart() async throws {
        // Delivered before the restart (only delivered messages count against the rate limit).
        let earlier = MQTTRecorder()
        let before = Notifier(configuration: config([Recipient(name: "T-114", mqttTopic: "n/T-114")], policy: .init(maxPerWindow: 1), mqtt: earlier.publish))
        _ = await before.notify(note("WO-31", priority: "low"), to: ["T-114"], priority: .low, now: t0)
        _ = await before.notify(note("WO-32"), to: ["T-114"], priority: .high, now: t0)
        _ = await before.notify(note("WO-33"), to: ["T-114"], priority: .high, now: t0.addingTimeInterval(60))
        let saved = try JSONEncoder().encode(await before.state)

        let mqtt = MQTTRecorder()
        let after = Notifier(configuration: config([Recipient(name: "T-114", mqttTopic: "n/T-114")], policy: .init(maxPerWindow: 1), mqtt: mqtt.publish),
                             state: try JSONDecoder().decode(NotifierState.self, from: saved))
        // Still rate limited after the restart: the send before it counts.
        #expect(await after.notify(note("WO-34"), to: ["T-114"], priority: .high, now: t0.addingTimeInterval(120)).map(\.channel) == [.deferred])
        #expect(await after.nextRelease == t0.addingTimeInterval(3600))
        let deferred = await after.releaseDue(now: t0.addingTimeInterval(3600))
        #expect(deferred.map(\.workOrderIDs) == [["WO-33", "WO-34"]])
        let digest = await after.releaseDue(now: utc("2026-11-19T06:00:00Z"))
        #expect(digest.map(\.workOrderIDs) == [["WO-31"]])
        // The full content came back, not only the id.
        let items = await mqtt.published.last?.payload["work_orders"] as? [[String: Any]]
        #expect(items?.first?["evidence_url"] as? String == "https://mw.plant.example/evidence/WO-31.jpg")
        #expect(items?.first?["assignment_reason"] as? String == "mechanical, on shift B, same area line-2")
    }

    @Test func mqttChannelPublishesTheGenericBodyAndReportsBrokerFailures() async throws {
        let mqtt = MQTTRecorder()
        let notifier = Notifier(configuration: config([Recipient(name: "andon", mqttTopic: "millwright/plant-1/notify/andon")], mqtt: mqtt.publish))
        #expect(await notifier.notify(note("WO-41"), to: ["andon"], priority: .high, now: t0).map(\.outcome) == [.sent])
        let p = try #require(await mqtt.published.first)
        #expect(p.topic == "millwright/plant-1/notify/andon")
        #expect(p.payload["event"] as? String == "work_order.created" && p.payload["work_order_id"] as? String == "WO-41")

        await mqtt.fail("not connected to mqtt://127.0.0.1:1883")
        #expect(await notifier.notify(note("WO-42"), to: ["andon"], priority: .high, now: t0).map(\.outcome)
            == [.failed("MQTT publish to millwright/plant-1/notify/andon failed: not connected to mqtt://127.0.0.1:1883")])
        let unwired = await Notifier(configuration: config([Recipient(name: "andon", mqttTopic: "t")])).notify(note("WO-43"), to: ["andon"], priority: .high, now: t0)
        #expect(unwired.map(\.outcome) == [.failed("no MQTT broker is configured, so topic t cannot be published to")])
    }

    @Test func unknownOrChannellessRecipientsAreReportedOnce() async {
        let mqtt = MQTTRecorder()
        let notifier = Notifier(configuration: config([Recipient(name: "empty"), Recipient(name: "sup", mqttTopic: "s")], mqtt: mqtt.publish))
        let r = await notifier.notify(note("WO-51"), to: ["nobody", "empty", "sup", "nobody", "sup"], priority: .high, now: t0)
        #expect(r == [
            NotificationReport(recipient: "nobody", channel: .unrouted, workOrderIDs: ["WO-51"], outcome: .failed("unknown recipient 'nobody' (configured: empty, sup)")),
            NotificationReport(recipient: "empty", channel: .unrouted, workOrderIDs: ["WO-51"], outcome: .failed("recipient 'empty' has no e-mail, webhook or MQTT topic configured")),
            NotificationReport(recipient: "sup", channel: .mqtt, workOrderIDs: ["WO-51"], outcome: .sent, target: "s"),
        ])
        #expect(await mqtt.published.count == 1)
    }

    @Test func pickListReachesTheStoreroomUnthrottled() async throws {
        let receiver = try await WebhookReceiver()
        let mqtt = MQTTRecorder()
        let notifier = Notifier(configuration: config([Recipient(name: "storeroom", webhook: receiver.url("/store"), webhookFlavor: .slack, mqttTopic: "store/picks")],
                                                      policy: .init(maxPerWindow: 1), mqtt: mqtt.publish))
        let pick = PickList(workOrderID: "WO-61", reference: "MW-3F2A9C", asset: "10004712", assetName: "Head pulley C3", location: "Line 2",
                            assignee: "T-114 A. Ortiz", lines: [PartLine(sku: "PUL-500-HD", qty: 1, status: .reserved, free: 2, location: "B-12"),
                                                                PartLine(sku: "BRG-6205", qty: 2, status: .short, free: 1, location: "C-03")])
        for i in 0..<3 {
            let r = await notifier.pickList(pick, to: ["storeroom"], now: t0.addingTimeInterval(Double(i)))
            #expect(r.map(\.channel) == [.webhook, .mqtt] && r.allSatisfy { $0.outcome == .sent && $0.workOrderIDs == ["WO-61"] })
        }
        await notifier.shutdown()
        await receiver.close()
        let slack = try #require(receiver.requests.first).json
        #expect(slack["text"] as? String == "Pick list WO-61: 2 lines for asset Head pulley C3 - 1 SHORT or not in inventory")
        let listed = (slack["blocks"] as? [[String: Any]])?.compactMap { ($0["text"] as? [String: Any])?["text"] as? String }.joined()
        #expect(listed?.contains("PUL-500-HD ×1 reserved at B-12") == true)
        #expect(listed?.contains("BRG-6205 ×2 SHORT") == true)
        let generic = try #require(await mqtt.published.first).payload
        #expect(generic["event"] as? String == "pick_list")
        #expect((generic["lines"] as? [[String: Any]])?.map { "\($0["sku"] ?? ""):\($0["location"] ?? ""):\($0["status"] ?? "")" }
            == ["PUL-500-HD:B-12:reserved", "BRG-6205:C-03:short"])
    }

    @Test func redactionKeepsHostAndDropsCredentials() {
        #expect(WebhookSigner.redacted("https://hooks.slack.com/services/T000/B000/XXXX") == "https://hooks.slack.com/services/…")
        #expect(WebhookSigner.redacted("https://prod.logic.azure.com:443/workflows/abc/triggers/manual?sig=SECRET") == "https://prod.logic.azure.com:443/workflows/…")
        #expect(WebhookSigner.redacted("http://user:pw@127.0.0.1:8080/hook") == "http://127.0.0.1:8080/hook")
        #expect(WebhookSigner.redacted("not a url with spaces") == "(not a URL: 21 characters)")
        let r = Recipient(name: "sup", webhook: "https://hooks.slack.com/services/T/B/XXXX", webhookSecret: "k3y")
        #expect(!"\(r)".contains("XXXX") && !"\(r)".contains("k3y") && "\(r)".contains("signed"))
    }
}

@Suite struct NotifierSettingsTests {
    @Test func configurationFromTheNotificationsSection() throws {
        var s = NotificationSettings()
        var sup = RecipientSettings(name: "supervisor")
        sup.webhook = "https://hooks.slack.com/services/T/B/X"
        sup.webhookFormat = "teams-adaptive"
        sup.webhookSecret = "k"
        s.recipients = ["supervisor": sup]
        var smtp = SMTPSettings(host: "relay.plant.example", port: 465, from: "\"Millwright Line 2\" <mw@plant.example>")
        smtp.security = .tls
        smtp.user = "mw"
        smtp.password = "pw"
        s.smtp = smtp
        s.throttle.maxPerWindow = 3
        let c = try NotifierConfiguration(s, timeZone: TimeZone(identifier: "Europe/Berlin")!)
        #expect(c.recipients["supervisor"] == Recipient(name: "supervisor", webhook: sup.webhook, webhookFlavor: .teamsAdaptive, webhookSecret: "k"))
        #expect(c.email?.smtp.security == .implicitTLS)
        #expect(c.email?.smtp.credentials == SMTPCredentials(username: "mw", password: "pw"))
        #expect(c.email?.smtp.allowInsecureAuth == false)
        #expect(c.email?.from == Mailbox("mw@plant.example", name: "Millwright Line 2"))
        #expect(c.throttle.maxPerWindow == 3)
        #expect(Mailbox(parsing: " mw@plant.example ") == Mailbox("mw@plant.example"))

        s.smtp?.caFile = "/nonexistent/ca.pem"
        #expect(throws: SMTPError.self) { try NotifierConfiguration(s, timeZone: .gmt) }
    }
}
