import Config
import Connectors
import Foundation
import MillwrightCore
import Testing

@Suite struct ConfigTests {
    let env = ["MW_KEY": "k1", "MW_TOKEN": "t1"]

    func parse(_ yaml: String) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: env)
    }

    @Test func theProductExampleLoads() throws {
        let s = try parse("""
        server:   { host: 0.0.0.0, port: 8080 }
        storage:  { sqlite: /tmp/x/millwright.sqlite }
        cmms:
          - name: plant-sandbox
            kind: sandbox
            base_url: http://127.0.0.1:9000
            auth: { bearer: { token_env: MW_TOKEN } }
        assets:
          cameras:
            - { camera: CAM-07, asset: "10004711", zones: { head-pulley: "10004712" }, cmms: plant-sandbox, criticality: A }
        defects:
          crack:
            min_confidence: 0.80
            confirm: { detections: 3, within: 10s }
            severity: { base: 70 }
            procedure: "Lock out conveyor."
            parts: [ { sku: "PUL-500-HD", qty: 1 } ]
            skills: [ mechanical ]
        incidents: { reopen_after: 30m }
        priority:
          - { when: "severity >= 85", priority: critical, notify: [ supervisor ] }
          - { priority: low }
        site: { name: plant-1, timezone: Europe/Berlin }
        shifts:
          A: { start: "06:00", end: "14:00", days: [mon] }
        shadow: false
        auth:
          api_keys:
            - { name: line2-vision, role: ingest, key_env: MW_KEY }
        """)
        #expect(s.server.port == 8080)
        #expect(s.cmms.first?.auth == .bearer(token: "t1"))
        #expect(s.assets.cameras.first?.zones["head-pulley"] == "10004712")
        #expect(s.assets.cameras.first?.criticality == .a)
        #expect(s.assets.cameras.first?.line == 10)
        #expect(s.defects["crack"]?.confirmDetections == 3)
        #expect(s.defects["crack"]?.confirmWithin == .seconds(10))
        #expect(s.incidents.reopenAfter == .seconds(1800))
        #expect(s.priority.count == 2)
        #expect(s.apiKeys.first?.key == "k1")
        #expect(s.site.timezone == "Europe/Berlin")
    }

    func expectError(_ yaml: String, line: Int?, key: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try parse(yaml)
            Issue.record("expected a configuration error", sourceLocation: sourceLocation)
        } catch {
            #expect(error.file == "plant.yaml", sourceLocation: sourceLocation)
            #expect(error.line == line, "line", sourceLocation: sourceLocation)
            #expect(error.key == key, sourceLocation: sourceLocation)
            #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("plant.yaml"), sourceLocation: sourceLocation)
        }
    }

    @Test func errorsNameFileLineAndKey() {
        expectError("defects:\n  crack:\n    min_confidence: 1.5\n", line: 3, key: "defects.crack.min_confidence", containing: "between 0.0 and 1.0")
        expectError("defects:\n  crack:\n    min_confidance: 0.5\n", line: 3, key: "defects.crack.min_confidance", containing: "did you mean 'min_confidence'")
        expectError("incidents: { reopen_after: soon }\n", line: 1, key: "incidents.reopen_after", containing: "duration")
        expectError("server:\n  port: 99999\n", line: 2, key: "server.port", containing: "between 0 and 65535")
        expectError("priority:\n  - { when: \"severity >= 85\", priority: urgent }\n", line: 2, key: "priority[0].priority", containing: "critical, high, medium, low")
        expectError("priority:\n  - { when: \"sev >= 85\", priority: high }\n", line: 2, key: "priority[0].when", containing: "unknown field 'sev'")
        expectError("site: { timezone: Mars/Olympus }\n", line: 1, key: "site.timezone", containing: "IANA")
        expectError("frobnicate: 1\n", line: 1, key: "frobnicate", containing: "unknown key")
    }

    @Test func missingSecretsAndBadCMMSAreStartupErrors() {
        expectError("auth:\n  api_keys:\n    - { name: x, role: ingest, key_env: NOPE }\n", line: 3, key: "auth.api_keys[0].key_env",
                    containing: "NOPE is not set")
        expectError("cmms:\n  - { name: a, kind: sap, base_url: http://x }\n", line: 2, key: "cmms[0].kind", containing: "not a supported CMMS")
        expectError("cmms:\n  - { name: a, kind: sandbox, base_url: ftp://x }\n", line: 2, key: "cmms[0].base_url", containing: "http(s)")
        expectError("assets:\n  cameras:\n    - { camera: C, asset: A, cmms: nowhere }\n", line: 3, key: "assets.cameras", containing: "nowhere")
    }

    @Test func yamlSyntaxErrorsHaveALine() {
        expectError("server:\n  port: [1, 2\n", line: 3, key: "", containing: "YAML syntax")
    }

    @Test func environmentSubstitution() throws {
        let s = try ConfigLoader.parse(yaml: "server: { port: \"${PORT:-8081}\", host: \"${HOST}\" }\n", file: "p.yaml", cmmsKinds: CMMSRegistry.all, environment: ["HOST": "10.0.0.1"])
        #expect(s.server.port == 8081)
        #expect(s.server.host == "10.0.0.1")
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "server: { host: \"${HOST}\" }\n", file: "p.yaml", cmmsKinds: CMMSRegistry.all, environment: [:]) }
    }
}

extension ConfigTests {
    @Test func systemBlocksAreReadIntoTypedOptions() throws {
        let s = try parse("""
        cmms:
          - name: plant-sap
            kind: sap-pm
            base_url: https://s4.plant.example
            auth: { basic: { user: MW_INTEGRATION, password_env: MW_TOKEN } }
            sap: { plant: "1010", status_map: { NOCO: completed, DLFL: cancelled }, users: [T-1=a, T-2=b], create_order: yes }
        """)
        let c = try #require(s.cmms.first)
        let o = try #require(c.options as? SAPPMOptions)
        #expect(o.plant == "1010")
        #expect(o.createOrder)
        #expect(c.statusMap == ["NOCO": .completed, "DLFL": .cancelled])
        #expect(c.users == ["T-1": "a", "T-2": "b"])
        #expect(s.cmms.first?.auth == .basic(user: "MW_INTEGRATION", password: "t1"))
    }
}

@Suite struct AuditConfigTests {
    let secret = "s3cret-value-that-must-not-print"

    func parse(_ yaml: String, env: [String: String]? = nil) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "/etc/mw/plant.yaml", cmmsKinds: CMMSRegistry.all, environment: env ?? ["MW_AUDIT_KEY": secret])
    }

    @Test func theProductNamesLoad() throws {
        let s = try parse("storage: { sqlite: ./data/mw.sqlite }\naudit: { key_env: MW_AUDIT_KEY, checkpoints: ./data/audit.checkpoints, checkpoint_every: 1m }\n")
        #expect(s.audit.keyEnv == "MW_AUDIT_KEY")
        #expect(s.audit.key != nil)
        #expect(s.audit.checkpointsPath == "/etc/mw/data/audit.checkpoints")
        #expect(s.audit.checkpointEvery == .seconds(60))
    }

    @Test func checkpointsDefaultBesideTheDatabase() throws {
        let s = try parse("audit: { key_env: MW_AUDIT_KEY }\nstorage: { sqlite: /var/lib/mw/db.sqlite }\n")
        #expect(s.audit.checkpointsPath == "/var/lib/mw/audit.checkpoints")
        #expect(s.audit.checkpointEvery == .seconds(60))
        #expect(try parse("server: { port: 1 }\n").audit.key == nil)
        #expect(try parse("server: { port: 1 }\n").audit.checkpointsPath == nil)
    }

    @Test func mistakesNameTheKeyAndNeverTheSecret() {
        let cases: [(String, [String: String]?, String)] = [
            ("audit: { key_env: MW_AUDIT_KEY, checkpoint: x }\n", nil, "plant.yaml:1: audit.checkpoint: unknown key (did you mean 'checkpoints'?)"),
            ("audit: { key_env: MW_AUDIT_KEY, checkpoint_every: 0s }\n", nil, "audit.checkpoint_every: must be between 1s and 1d"),
            ("audit: { key_env: MW_AUDIT_KEY, checkpoint_every: 2d }\n", nil, "audit.checkpoint_every: must be between 1s and 1d"),
            ("audit: { key_env: MW_AUDIT_KEY }\n", [:], "environment variable MW_AUDIT_KEY is not set"),
            ("audit: { key_env: MW_AUDIT_KEY }\n", ["MW_AUDIT_KEY": "short-secret"], "audit.key_env: environment variable MW_AUDIT_KEY holds fewer than 16 bytes"),
            ("audit: { checkpoints: ./c }\n", nil, "audit.checkpoints: needs key_env"),
        ]
        for (yaml, env, want) in cases {
            do {
                _ = try parse(yaml, env: env)
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.description.contains(want), "\(error)")
                #expect(!error.description.contains(secret) && !error.description.contains("short-secret"))
            }
        }
    }
}
