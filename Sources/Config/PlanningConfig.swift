import Foundation
import MillwrightCore

/// `shifts`, `technicians`, `routing`, `procedures`, `inventory`, `notifications`, `escalation`:
/// who does the work, with which procedure and parts, and who hears about it.
extension ConfigLoader {
    static func shifts(_ n: YAMLNode) throws(ConfigError) -> [Shift] {
        try n.requireMapping().map { (name, v) throws(ConfigError) in
            _ = try v.requireMapping(allowed: ["start", "end", "days", "rotation", "anchor"])
            let start = try req(v, "start").string(), end = try req(v, "end").string()
            let days = try v.child("days")?.stringList(), rotation = try v.child("rotation")?.string(), anchor = try v.child("anchor")?.string()
            do throws(ShiftSpecError) {
                return try Shift.parse(name: name, start: start, end: end, days: days, rotation: rotation, anchor: anchor)
            } catch {
                throw v.error(error.description)
            }
        }
    }

    static func technician(_ n: YAMLNode) throws(ConfigError) -> (Technician, RecipientSettings?) {
        _ = try n.requireMapping(allowed: ["id", "name", "skills", "certifications", "shift", "area", "on_call", "notify"])
        let id = try req(n, "id").string()
        var t = Technician(id: id, name: try n.child("name")?.string() ?? id)
        if let v = n.child("skills") { t.skills = Set(try v.stringList()) }
        if let v = n.child("certifications") {
            t.certifications = try v.requireSequence().map { c throws(ConfigError) in
                if c.node.scalar != nil { return Certification(name: try c.string()) }
                _ = try c.requireMapping(allowed: ["name", "expires"])
                var cert = Certification(name: try req(c, "name").string())
                if let e = c.child("expires") {
                    let text = try e.string()
                    guard let d = LocalDate(parsing: text) else { throw e.error("'\(text)' is not a date (YYYY-MM-DD)") }
                    cert.expires = d
                }
                return cert
            }
        }
        if let v = n.child("shift") { t.shift = try v.string() }
        if let v = n.child("area") { t.area = try v.string() }
        if let v = n.child("on_call") { t.onCall = try v.bool() }
        let notify = try n.child("notify").map { v throws(ConfigError) in try recipient(id, v) }
        return (t, notify)
    }

    static func recipient(_ name: String, _ n: YAMLNode) throws(ConfigError) -> RecipientSettings {
        var r = RecipientSettings(name: name)
        for (k, v) in try n.requireMapping(allowed: ["email", "webhook", "format", "secret_env", "mqtt"]) {
            switch k {
            case "email":
                let a = try v.string()
                guard a.contains("@"), !a.contains(" ") else { throw v.error("'\(a)' is not an e-mail address") }
                r.email = a
            case "webhook":
                let u = try v.string()
                guard let url = URL(string: u), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    throw v.error("'\(u)' is not an http(s) URL")
                }
                r.webhook = u
            case "format":
                let f = try v.string()
                let formats = ["generic", "slack", "teams", "teams-adaptive"]
                guard formats.contains(f) else { throw v.error("'\(f)' is not a webhook format; use one of \(formats.joined(separator: ", "))") }
                r.webhookFormat = f
            case "secret_env": r.webhookSecret = try n.secret(fromEnvKey: k)
            default: r.mqttTopic = try v.string()
            }
        }
        return r
    }

    static func routing(_ n: YAMLNode, into p: inout PlanningSettings) throws(ConfigError) {
        for (k, v) in try n.requireMapping(allowed: ["fallback", "interrupt_at", "other_area_cost", "distance_per_load_unit", "distances", "holidays", "load_from"]) {
            switch k {
            case "load_from": p.loadFromCMMS = try v.string()
            case "fallback": p.routing.fallbackQueue = try v.string()
            case "interrupt_at": p.routing.interruptAt = try priority(v)
            case "other_area_cost": p.routing.otherAreaCost = try v.double(in: 0...1_000_000)
            case "distance_per_load_unit": p.routing.distancePerLoadUnit = try v.double(in: 0.001...1_000_000)
            case "distances":
                for (from, row) in try v.requireMapping() {
                    for (to, d) in try row.requireMapping() { p.distances.distances[from, default: [:]][to] = try d.double(in: 0...1e12) }
                }
            default:
                for h in try v.requireSequence() {
                    let text = try h.string()
                    guard let d = LocalDate(parsing: text) else { throw h.error("'\(text)' is not a date (YYYY-MM-DD)") }
                    p.holidays.insert(d)
                }
            }
        }
    }

    static func priority(_ v: YAMLNode) throws(ConfigError) -> Priority {
        let s = try v.string()
        guard let p = Priority(rawValue: s) else { throw v.error("must be one of critical, high, medium, low; got '\(s)'") }
        return p
    }

    static func notifications(_ n: YAMLNode, resolvePath: (String) -> String) throws(ConfigError) -> NotificationSettings {
        var s = NotificationSettings()
        for (k, v) in try n.requireMapping(allowed: ["email", "rate_limit", "digest", "recipients", "pick_list", "always"]) {
            switch k {
            case "email": s.smtp = try smtp(v, resolvePath: resolvePath)
            case "rate_limit":
                for (rk, rv) in try v.requireMapping(allowed: ["max", "per"]) {
                    if rk == "max" { s.throttle.maxPerWindow = try rv.int(in: 1...10_000) } else { s.throttle.window = try rv.duration().seconds }
                }
            case "digest":
                for (dk, dv) in try v.requireMapping(allowed: ["at", "priority"]) {
                    if dk == "at" {
                        let t = try dv.string()
                        guard let time = LocalTime(parsing: t) else { throw dv.error("'\(t)' is not a local time HH:MM") }
                        s.throttle.digestTime = time
                    } else {
                        s.throttle.digestAtOrBelow = try dv.string() == "none" ? nil : try priority(dv)
                    }
                }
            case "recipients":
                for (name, rv) in try v.requireMapping() { s.recipients[name] = try recipient(name, rv) }
            case "pick_list": s.pickList = try v.stringList()
            default: s.always = try v.stringList()
            }
        }
        return s
    }

    static func smtp(_ n: YAMLNode, resolvePath: (String) -> String) throws(ConfigError) -> SMTPSettings {
        _ = try n.requireMapping(allowed: ["server", "from", "security", "user", "password_env", "ca"])
        let serverNode = try req(n, "server")
        let server = try serverNode.string()
        guard let u = URL(string: server), u.scheme == "smtp", let host = u.host else {
            throw serverNode.error("'\(server)' is not an smtp://host:port address")
        }
        var s = SMTPSettings(host: host, port: u.port ?? 587, from: try req(n, "from").string())
        if let v = n.child("security") {
            let text = try v.string()
            guard let sec = SMTPSettings.Security(rawValue: text) else { throw v.error("must be starttls, tls or none; got '\(text)'") }
            s.security = sec
        }
        if let v = n.child("user") { s.user = try v.string() }
        if n.child("password_env") != nil { s.password = try n.secret(fromEnvKey: "password_env") }
        if let v = n.child("ca") { s.caFile = resolvePath(try v.string()) }
        return s
    }

    static func escalation(_ n: YAMLNode) throws(ConfigError) -> EscalationPolicy {
        var chains: [Priority: [EscalationStage]] = [:]
        for (k, v) in try n.requireMapping(allowed: Priority.allCases.map(\.rawValue)) {
            chains[Priority(rawValue: k)!] = try v.requireSequence().map { st throws(ConfigError) in
                _ = try st.requireMapping(allowed: ["after", "notify"])
                return EscalationStage(recipients: try req(st, "notify").stringList(), delay: try req(st, "after").duration().seconds)
            }
        }
        return EscalationPolicy(chains)
    }

    /// A technician's shift must exist; a misspelt shift would silently keep them off every roster.
    static func checkShifts(_ s: Settings, file: String, root: YAMLNode) throws(ConfigError) {
        let shiftNames = Set(s.planning.shifts.map(\.name))
        for (i, t) in s.planning.technicians.enumerated() {
            if let sh = t.shift, !shiftNames.contains(sh) {
                throw ConfigError(file: file, line: root.child("technicians")?.node.sequence?[i].mark?.line, key: "technicians[\(i)].shift",
                                  message: "technician \(t.id) works shift '\(sh)', which is not under shifts: (have: \(shiftNames.sorted().joined(separator: ", ")))")
            }
        }
    }
}
