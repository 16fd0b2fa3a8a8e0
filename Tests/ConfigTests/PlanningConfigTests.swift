import Config
import Connectors
import Foundation
import MillwrightCore
import Testing

/// The dispatch-readiness sections of the config: who, when, with what, and who hears.
@Suite struct PlanningConfigTests {
    func parse(_ yaml: String) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "/plant/plant.yaml", cmmsKinds: CMMSRegistry.all, environment: ["HOOK_SECRET": "s3", "SMTP_PW": "pw"])
    }

    @Test func everySectionLoads() throws {
        let s = try parse("""
        site: { name: plant-1, timezone: Europe/Berlin }
        shifts:
          A: { start: "06:00", end: "14:00", days: [mon, tue, wed, thu, fri] }
          N: { start: "22:00", end: "06:00", rotation: "DDDD----", anchor: 2026-01-05 }
        technicians:
          - { id: T-114, name: "A. Ortiz", skills: [mechanical], certifications: [{ name: welding, expires: 2027-03-31 }, lifting],
              shift: A, area: line-2, on_call: true, notify: { email: ortiz@plant.example, mqtt: "plant/techs/T-114" } }
        routing:
          fallback: maintenance-supervisor
          interrupt_at: high
          distances: { line-2: { line-3: 120 } }
          holidays: [2026-12-25]
        procedures: ./procedures
        inventory: ./inventory.csv
        priority:
          - { when: "severity >= 85", priority: critical, notify: [supervisor] }
          - { priority: low }
        notifications:
          email: { server: "smtp://127.0.0.1:2525", from: "Millwright <mw@plant.example>", security: none, user: mw, password_env: SMTP_PW }
          rate_limit: { max: 3, per: 30m }
          digest: { at: "06:30", priority: medium }
          recipients:
            supervisor: { webhook: "https://chat.plant.example/hooks/abc", format: teams, secret_env: HOOK_SECRET }
            storeroom: { email: stores@plant.example }
          pick_list: [storeroom]
        escalation:
          critical: [ { after: 15m, notify: [supervisor] }, { after: 30m, notify: [plant-manager] } ]
        """)
        let p = s.planning
        #expect(p.shifts.map(\.name).sorted() == ["A", "N"])
        #expect(p.holidays == [LocalDate(year: 2026, month: 12, day: 25)])
        let t = try #require(p.technicians.first)
        #expect(t.certifications == [Certification(name: "welding", expires: LocalDate(year: 2027, month: 3, day: 31)), Certification(name: "lifting")])
        #expect(t.onCall && t.area == "line-2" && t.shift == "A")
        #expect(p.notifications.recipients["T-114"]?.mqttTopic == "plant/techs/T-114", "a technician's own notify: block is a recipient")
        #expect(p.notifications.recipients["supervisor"]?.webhookSecret == "s3")
        #expect(p.notifications.smtp?.password == "pw")
        #expect(p.notifications.smtp?.port == 2525)
        #expect(p.notifications.throttle.maxPerWindow == 3)
        #expect(p.notifications.throttle.window == 1800)
        #expect(p.notifications.throttle.digestAtOrBelow == .medium)
        #expect(p.routing.fallbackQueue == "maintenance-supervisor")
        #expect(p.routing.interruptAt == .high)
        #expect(p.distances.distance("line-3", "line-2") == 120)
        #expect(p.proceduresDirectory == "/plant/procedures")
        #expect(p.inventoryPath == "/plant/inventory.csv")
        #expect(p.escalation.chains[.critical]?.map(\.delay) == [900, 1800])
        #expect(p.unknownRecipients(priorityRules: s.priority, technicians: p.technicians) == ["plant-manager", "maintenance-supervisor"])
        let fromCMMS = try parse("cmms:\n  - { name: mx, kind: sandbox, base_url: http://x }\ninventory: { cmms: mx, refresh: 5m }\nrouting: { load_from: mx }\n")
        #expect(fromCMMS.planning.inventoryCMMS == "mx" && fromCMMS.planning.loadFromCMMS == "mx" && fromCMMS.planning.tracksInventory)
        #expect(fromCMMS.planning.cmmsRefresh == .seconds(300))
        let users = try parse("cmms:\n  - { name: mx, kind: maximo, base_url: http://x, maximo: { site: S, users: { T-114: ORTIZ, mechanics: \"team:MECH\" } } }\n")
        #expect(users.cmms.first?.users == ["T-114": "ORTIZ", "mechanics": "team:MECH"], "the README's users form reaches the connector")
        let roster = try parse("technicians: ./roster.csv\n")
        #expect(roster.planning.rosterPath == "/plant/roster.csv")
    }

    @Test func mistakesNameTheLineAndTheFix() {
        func expectError(_ yaml: String, line: Int?, key: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try parse(yaml)
                Issue.record("expected a configuration error", sourceLocation: sourceLocation)
            } catch {
                #expect(error.line == line, "line", sourceLocation: sourceLocation)
                #expect(error.key == key, sourceLocation: sourceLocation)
                #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
            }
        }
        expectError("shifts:\n  A: { start: \"6am\", end: \"14:00\" }\n", line: 2, key: "shifts.A", containing: "not HH:MM")
        expectError("shifts:\n  A: { start: \"06:00\", end: \"14:00\" }\ntechnicians:\n  - { id: T-1, shift: B }\n", line: 4,
                    key: "technicians[0].shift", containing: "'B', which is not under shifts: (have: A)")
        expectError("technicians:\n  - { id: T-1 }\n  - { id: T-1 }\n", line: 3, key: "technicians[1]", containing: "used twice")
        expectError("technicians:\n  - { id: T-1, certifications: [{ name: welding, expires: soon }] }\n", line: 2,
                    key: "technicians[0].certifications[0].expires", containing: "YYYY-MM-DD")
        expectError("notifications:\n  recipients:\n    boss: { webhook: \"ftp://x\" }\n", line: 3, key: "notifications.recipients.boss.webhook", containing: "http(s)")
        expectError("notifications:\n  recipients:\n    boss: { webhook: \"https://x\", format: discord }\n", line: 3,
                    key: "notifications.recipients.boss.format", containing: "generic, slack, teams")
        expectError("inventory: { cmms: nowhere }\n", line: nil, key: "inventory.cmms", containing: "'nowhere', which is not under cmms:")
        expectError("escalation:\n  urgent: []\n", line: 2, key: "escalation.urgent", containing: "unknown key")
        expectError("notifications:\n  email: { server: \"mail.plant\", from: x@y }\n", line: 2, key: "notifications.email.server", containing: "smtp://")
        expectError("cmms:\n  - { name: a, kind: sandbox, base_url: http://x, title: \"{defect} at {assett}\" }\n", line: 2,
                    key: "cmms[0].title", containing: "unknown placeholder {assett}")
    }
}
