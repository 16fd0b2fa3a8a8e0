import AsyncHTTPClient
import Connectors
import Emulators
import MillwrightCore
import Testing
import MillwrightTesting

/// The two lists of kinds — connectors in `CMMSRegistry`, emulators in `EmulatorRegistry`, kept
/// apart so emulators share no connector code — name the same systems.
@Suite struct RegistryTests {
    /// The receiver of a webhook is the plant's own code: there is no vendor API to emulate.
    static let withoutEmulator: Set<String> = ["webhook"]

    @Test func connectorAndEmulatorRegistriesCoverTheSameKinds() {
        let connectors = CMMSRegistry.all.map(\.name), emulators = EmulatorRegistry.all.map(\.kind)
        #expect(Set(connectors).count == connectors.count && Set(emulators).count == emulators.count, "a kind listed twice")
        #expect(Set(emulators) == Set(connectors).subtracting(Self.withoutEmulator))
        #expect(Set(CMMSRegistry.all.map(\.block)).count == connectors.count, "two kinds share a config block")
    }

    /// The least each system needs to build its connector.
    static func minimal(_ kind: String) -> TestCMMS {
        var s = TestCMMS(name: kind, kind: kind, baseURL: "http://127.0.0.1:1")
        s.auth = .bearer(token: "t")
        switch kind {
        case "webhook": s.options = ["secret_env": "s3cret"]
        case "maximo": s.options = ["site": "S"]
        case "limble": s.options = ["location_id": "1"]; s.auth = .client(id: "i", secret: "s")
        case "fiix": s.options = ["site_id": "1"]; s.auth = .hmac(appKey: "a", accessKey: "b", secret: "c")
        case "upkeep": s.auth = .session(user: "u", password: "p")
        case "oracle-fusion": s.options = ["organization": "M1"]
        case "hxgn-eam": s.options = ["tenant": "T", "organization": "O"]
        default: break
        }
        return s
    }

    /// Each descriptor builds its connector from minimal options, and the planning capabilities are
    /// claimed exactly by the connectors that implement them.
    @Test(arguments: CMMSRegistry.all.map(\.name))
    func eachKindBuildsItsConnectorAndStatesItsPlanningTruthfully(_ name: String) throws {
        let kind = try #require(CMMSRegistry.kind(name))
        let connector = try CMMSRegistry.makeConnector(Self.minimal(name), http: HTTPClient.test())
        let plans = connector is any CMMSPlanningSource
        #expect(kind.capabilities.contains(.stock) == plans && kind.capabilities.contains(.openWork) == plans)
    }

    /// Options that were never read (settings built by hand) are a wiring mistake named as such.
    @Test func aConnectorNeedsItsOwnOptions() {
        let s = CMMSSettings(name: "m", kind: "maximo", baseURL: "http://127.0.0.1:1")
        let error = #expect(throws: ConnectorError.self) { try CMMSRegistry.makeConnector(s, http: HTTPClient.test()) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("maximo"))
    }
}
