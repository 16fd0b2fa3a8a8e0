import Foundation
import MillwrightCore

extension ConfigLoader {
    /// `compliance: { part11, session_idle, security_contacts, max_clock_step }`.
    static func compliance(_ n: YAMLNode) throws(ConfigError) -> ComplianceSettings {
        var c = ComplianceSettings()
        for (k, v) in try n.requireMapping(allowed: ["part11", "session_idle", "security_contacts", "max_clock_step"]) {
            switch k {
            case "part11": c.part11 = try v.bool()
            case "session_idle": c.sessionIdle = try v.duration(in: .seconds(60)...Duration.seconds(12 * 3600))
            case "max_clock_step": c.maxClockStep = try v.duration(in: .milliseconds(100)...Duration.seconds(3600))
            default:
                // Recipient names from notifications (technician ids or notifications.recipients), as mqtt.alert.
                c.securityContacts = try v.requireSequence().map { e throws(ConfigError) in try e.string() }
            }
        }
        return c
    }
}
