import Foundation
import MillwrightCore
import NIOCore

extension Recipient {
    /// From `notifications.recipients` (or a technician's `notify:`); the loader has checked the format.
    public init(_ s: RecipientSettings) {
        self.init(name: s.name, email: s.email, webhook: s.webhook, webhookFlavor: WebhookBody.Flavor(rawValue: s.webhookFormat) ?? .generic,
                  webhookSecret: s.webhookSecret, mqttTopic: s.mqttTopic)
    }
}

extension NotifierConfiguration {
    /// From the `notifications:` section. Throws only when the SMTP CA file cannot be read.
    public init(_ s: NotificationSettings, timeZone: TimeZone, httpTimeout: TimeAmount = .seconds(10), mqttPublish: MQTTPublish? = nil) throws(SMTPError) {
        var email: Email?
        if let smtp = s.smtp {
            let security: SMTPConfiguration.Security = switch smtp.security {
            case .starttls: .startTLS
            case .tls: .implicitTLS
            case .none: .plain
            }
            // Credentials in clear only to a relay on this machine; elsewhere the send fails and says why.
            let local = ["127.0.0.1", "localhost", "::1"].contains(smtp.host.lowercased())
            let config = SMTPConfiguration(host: smtp.host, port: smtp.port, security: security,
                                           tls: try SMTPConfiguration.tlsConfiguration(caPEMFile: smtp.caFile),
                                           credentials: smtp.user.map { SMTPCredentials(username: $0, password: smtp.password ?? "") },
                                           allowInsecureAuth: local)
            email = Email(smtp: config, from: Mailbox(parsing: smtp.from))
        }
        self.init(recipients: s.recipients.keys.sorted().compactMap { s.recipients[$0].map(Recipient.init) }, email: email,
                  throttle: s.throttle, timeZone: timeZone, httpTimeout: httpTimeout, mqttPublish: mqttPublish)
    }
}

extension Mailbox {
    /// `"Millwright <mw@plant.example>"` or a bare address.
    public init(parsing s: String) {
        let t = s.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix(">"), let open = t.lastIndex(of: "<") {
            let name = t[..<open].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
            self.init(String(t[t.index(after: open)..<t.index(before: t.endIndex)]), name: name.isEmpty ? nil : name)
        } else {
            self.init(t)
        }
    }
}
