import Config
import Connectors
import MillwrightCore
import Testing

@Suite struct OPCUAConfigTests {
    func parse(_ yaml: String, environment: [String: String] = ["MW_OPCUA_PLC": "plc-pass", "MW_OPCUA_MES": "mes-pass"]) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: environment)
    }

    @Test func theWholeShapeIsRead() throws {
        let s = try parse("""
        opcua:
          host: 0.0.0.0
          port: 0
          pki_dir: ./pki
          security: [none]
          modes: [sign, sign_and_encrypt]
          allow_anonymous: true
          users:
            - { name: plc, password_env: MW_OPCUA_PLC }
            - { name: mes, password_env: MW_OPCUA_MES, role: viewer }
          trust_all_clients: true
          reject_at: high
          reject_pulse: 2s
        """)
        let o = try #require(s.opcua)
        #expect(o.host == "0.0.0.0")
        #expect(o.port == 0)
        #expect(o.pkiDir?.hasSuffix("pki") == true)
        #expect(o.security == [.none])
        #expect(o.modes == [.sign, .signAndEncrypt])
        #expect(o.allowAnonymous)
        #expect(o.users == [OPCUASettings.User(name: "plc", password: "plc-pass"), OPCUASettings.User(name: "mes", password: "mes-pass", role: "viewer")])
        #expect(o.trustAllClients)
        #expect(o.rejectAt == .high)
        #expect(o.rejectPulse == .seconds(2))
        #expect(try parse("opcua: {}").opcua == OPCUASettings())
    }

    @Test func theSecuredPoliciesAreReadAndNeedAPKIFolder() throws {
        let o = try #require(try parse("""
        opcua:
          pki_dir: ./pki
          security: [none, basic256sha256, aes128sha256rsaoaep]
        """).opcua)
        #expect(o.security == [.none, .basic256sha256, .aes128sha256rsaoaep])
        do {
            _ = try parse("""
            opcua:
              port: 4840
              security:
                - none
                - basic256sha256
            """)
            Issue.record("basic256sha256 without pki_dir was accepted")
        } catch {
            #expect(error.file == "plant.yaml")
            #expect(error.line == 4)  // the list under security
            #expect(error.message.contains("pki_dir"), "\(error.message)")
        }
        do {
            _ = try parse("opcua:\n  security:\n    - none\n    - basic512\n")
            Issue.record("basic512 was accepted")
        } catch {
            #expect(error.line == 4)
        }
        #expect(throws: ConfigError.self) { try parse("opcua: { reject_at: urgent }") }
        #expect(throws: ConfigError.self) { try parse("opcua: { users: [ { name: plc, password_env: MW_MISSING } ] }") }
        #expect(throws: ConfigError.self) { try parse("opcua: { users: [ { name: plc, password_env: MW_OPCUA_PLC, role: admin } ] }") }
        #expect(throws: ConfigError.self) { try parse("opcua: { port: 70000 }") }
    }
}
