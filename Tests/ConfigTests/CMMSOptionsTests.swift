import Config
import Connectors
import MillwrightCore
import Testing

/// Each system's block is read into its typed `Options` when the file is loaded, with the
/// loader's file:line:key errors.
@Suite struct CMMSOptionsTests {
    func load(_ yaml: String, env: [String: String] = [:], requireSecrets: Bool = true) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: env, requireSecrets: requireSecrets)
    }

    func error(_ yaml: String, env: [String: String] = [:]) -> ConfigError? {
        do { _ = try load(yaml, env: env); return nil } catch { return error }
    }

    func entry(_ kind: String, _ block: String, auth: String = "{ bearer: { token_env: T } }") -> String {
        """
        cmms:
          - name: x
            kind: \(kind)
            base_url: http://127.0.0.1:9
            auth: \(auth)
        \(block)
        """
    }

    @Test func aTypoKeyGetsTheClosestKeyWithFileAndLine() throws {
        let e = try #require(error(entry("maintainx", "    maintainx:\n      lookup_dept: 50\n"), env: ["T": "t"]))
        #expect(e.line == 7)
        #expect(e.key == "cmms[0].maintainx.lookup_dept")
        #expect(e.message.contains("did you mean 'lookup_depth'"))
        #expect(e.description.hasPrefix("plant.yaml:7: cmms[0].maintainx.lookup_dept: unknown key"))
    }

    @Test func aWrongTypedValueNamesFileLineAndKey() throws {
        let e = try #require(error(entry("maintainx", "    maintainx:\n      lookup_depth: many\n"), env: ["T": "t"]))
        #expect(e.description == "plant.yaml:7: cmms[0].maintainx.lookup_depth: must be a whole number, got 'many'")
        let range = try #require(error(entry("maintainx", "    maintainx: { lookup_depth: 5000 }"), env: ["T": "t"]))
        #expect(range.key == "cmms[0].maintainx.lookup_depth" && range.message.contains("between 1 and 200"))
        let duration = try #require(error(entry("limble", "    limble: { location_id: 3, due_in: soon }"), env: ["T": "t"]))
        #expect(duration.key == "cmms[0].limble.due_in" && duration.line == 6)
        let choice = try #require(error(entry("sap-pm", "    sap: { technical_object: equipmnt }"), env: ["T": "t"]))
        #expect(choice.message.contains("did you mean 'equipment'"))
    }

    @Test func mapOptionsTakeAMappingOrOneString() throws {
        let mapping = try load(entry("limble", "    limble: { location_id: 3, location_map: { Line 2: 5, Line 3: \"6\" } }\n    priority_map: { critical: \"9\" }"),
                               env: ["T": "t"])
        let text = try load(entry("limble", "    limble: { location_id: 3, location_map: \"Line 2=5, Line 3=6\", priority_map: \"critical=9\" }"), env: ["T": "t"])
        for s in [mapping, text] {
            let o = try #require(s.cmms[0].options as? LimbleOptions)
            #expect(o.locationId == 3 && o.locationMap == ["Line 2": 5, "Line 3": 6])
            #expect(s.cmms[0].priorityMap == [.critical: "9"])
        }
        let status = try load(entry("maximo", "    maximo: { site: S, status_map: \"FALSEPOS=false_positive, WAPPR=open\" }"), env: ["T": "t"])
        #expect(status.cmms[0].statusMap == ["FALSEPOS": .falsePositive, "WAPPR": .open])
    }

    @Test func badMapEntriesAreRefused() throws {
        let notAPair = try #require(error(entry("maximo", "    maximo: { site: S, status_map: \"COMP\" }"), env: ["T": "t"]))
        #expect(notAPair.key == "cmms[0].maximo.status_map" && notAPair.message.contains("KEY=value"))
        let notAStatus = try #require(error(entry("maximo", "    maximo: { site: S, status_map: { COMP: done } }"), env: ["T": "t"]))
        #expect(notAStatus.message.contains("'done', which is not a status"))
        let notAnId = try #require(error(entry("limble", "    limble: { location_id: 3, asset_map: { P-7: pump } }"), env: ["T": "t"]))
        #expect(notAnId.key == "cmms[0].limble.asset_map" && notAnId.message.contains("not a Limble asset id"))
    }

    @Test func aRequiredOptionIsReportedAtTheEntryEvenWithoutABlock() throws {
        let e = try #require(error(entry("maximo", ""), env: ["T": "t"]))
        #expect(e.key == "cmms[0].maximo" && e.line == 2)
        #expect(e.message.contains("needs 'site'"))
    }

    @Test func secretsComeFromTheEnvironmentOrMayBeLeftOutForOfflineCommands() throws {
        let hook = entry("webhook", "    webhook: { secret_env: HOOK }", auth: "{ none: ~ }")
        let missing = try #require(error(hook))
        #expect(missing.key == "cmms[0].webhook.secret_env" && missing.message.contains("HOOK is not set"))
        #expect((try load(hook, env: ["HOOK": "s3"]).cmms[0].options as? WebhookOptions)?.secret == "s3")
        #expect((try load(hook, requireSecrets: false).cmms[0].options as? WebhookOptions)?.secret == "")
        let inFile = try #require(error(entry("webhook", "    webhook: { secret: s3 }", auth: "{ none: ~ }")))
        #expect(inFile.key == "cmms[0].webhook.secret" && inFile.message.contains("give secret_env"))
        // A secret that shows up in an error is masked.
        let echoed = try #require(error(entry("limble", "    limble: { location_id: \"${HOOK}\" }"), env: ["T": "t", "HOOK": "s3cr3t"]))
        #expect(echoed.key == "cmms[0].limble.location_id" && echoed.description.contains("${HOOK}") && !echoed.description.contains("s3cr3t"))
    }
}
