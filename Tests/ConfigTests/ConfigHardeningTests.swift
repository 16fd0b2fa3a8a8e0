import Config
import Connectors
import Foundation
import MillwrightCore
import Testing

/// Issue case 10: a typo or an absurd value is a clear start-up error naming file, line and
/// key — never silence, never a crash, never a secret in the message.
@Suite struct ConfigHardeningTests {
    let env = ["MW_KEY": "k1", "MW_TOKEN": "super-secret-token", "MW_TIMEOUT": "s3cr3t-value"]

    func error(_ yaml: String) -> ConfigError? {
        do { _ = try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: env); return nil } catch { return error }
    }

    func cmms(_ body: String, kind: String = "maximo") -> String {
        """
        cmms:
          - name: m
            kind: \(kind)
            base_url: http://127.0.0.1:9
            auth: { bearer: { token_env: MW_TOKEN } }
        \(body)
        """
    }

    @Test func anUnknownKeyInACMMSBlockIsRefusedWithASuggestion() throws {
        let e = try #require(error(cmms("    maximo: { siteid: BEDFORD }")))
        #expect(e.key == "cmms[0].maximo.siteid")
        #expect(e.line == 6)
        #expect(e.message.contains("did you mean 'site'"))
    }

    @Test func aBlockOfAnotherSystemIsRefused() throws {
        let e = try #require(error(cmms("    sap: { plant: \"1010\" }")))
        #expect(e.message.contains("'maximo:'"))
    }

    @Test func theKnownOptionsStillLoad() throws {
        let s = try ConfigLoader.parse(yaml: cmms("    maximo: { site: BEDFORD, status_map: { COMP: completed }, users: { T-1: ortiz } }"),
                                       file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: env)
        #expect((s.cmms[0].options as? MaximoOptions)?.site == "BEDFORD")
        #expect(s.cmms[0].statusMap == ["COMP": .completed])
        #expect(s.cmms[0].users == ["T-1": "ortiz"])
    }

    @Test func absurdDurationsAreRangeChecked() throws {
        let huge = try #require(error(cmms("    timeout: 1e17s")))
        #expect(huge.key == "cmms[0].timeout")
        let zero = try #require(error(cmms("    timeout: 0s")))
        #expect(zero.message.contains("between"))
    }

    @Test func valuesFromTheEnvironmentAreNeverPrinted() throws {
        let e = try #require(error(cmms("    timeout: ${MW_TIMEOUT}")))
        #expect(!e.description.contains("s3cr3t-value"))
        #expect(e.description.contains("${MW_TIMEOUT}"))
        // Any message that would echo an environment value has it masked.
        let kind = try #require(error("""
        cmms:
          - name: m
            kind: ${MW_TOKEN}
            base_url: http://127.0.0.1:9
        """))
        #expect(kind.message.contains("not a supported CMMS"))
        #expect(!kind.description.contains("super-secret-token"))
    }

    @Test func fetchAllowEntriesAreChecked() throws {
        let s = try ConfigLoader.parse(yaml: "evidence: { fetch_allow: [ nvr.plant.local, \"127.0.0.1:8554\", 10.20.0.0/16 ] }",
                                       file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: env)
        #expect(s.evidence.fetchPolicy.entries.count == 3)
        #expect(!s.evidence.fetchPolicy.allowsPublic)
        let e = try #require(error("evidence: { fetch_allow: [ 10.0.0.0/40 ] }"))
        #expect(e.key == "evidence.fetch_allow[0]")
    }
}
