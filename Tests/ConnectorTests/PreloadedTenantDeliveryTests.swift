import MillwrightTesting
import Testing
import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import Hummingbird
import MillwrightCore

/// Each connector against its emulator holding many unrelated work orders (`--preload`), with every
/// injected failure applied first (`--fail-mode after`: 500, 503, dropped connection): the duplicate
/// lookup after an ambiguous answer must filter or page on the server to find the one it created.
@Suite(.serialized) struct PreloadedTenantDeliveryTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var kind: String
        var router: @Sendable (EmulatorState) -> Hummingbird.Router<BasicRequestContext>
        var settings: @Sendable (String) -> TestCMMS
        var draft: @Sendable (String) -> WorkOrderDraft
        var testDescription: String { kind }
    }

    static let cases: [Case] = [
        Case(kind: "sap-pm", router: { SAPPMEmulator.router(state: $0) }, settings: { SAPPMTests.settings($0) }, draft: { Fixtures.draft(reference: $0) }),
        Case(kind: "maximo", router: { MaximoEmulator.router(state: $0) }, settings: { MaximoTests.settings($0) }, draft: { Fixtures.draft(reference: $0) }),
        Case(kind: "maintainx", router: { MaintainXEmulator.router(state: $0, schema: MaintainXEmulator.schema(), limit: 100_000, window: 60) },
             settings: { MaintainXTests.settings($0, ["reference_field": "Millwright Reference"]) }, draft: { Fixtures.draft(reference: $0) }),
        Case(kind: "upkeep", router: { UpKeepEmulator.router(state: $0) }, settings: { MoreConnectorsTests.upkeep($0) }, draft: { MoreConnectorsTests.draftWithReferenceLine($0) }),
        Case(kind: "limble", router: { LimbleEmulator.router(state: $0) }, settings: { LimbleHxGNTests.limble($0) }, draft: { LimbleHxGNTests.withReference($0) }),
        Case(kind: "oracle-fusion", router: { OracleMaintenanceEmulator.router(state: $0) }, settings: { MoreConnectorsTests.oracle($0) }, draft: { Fixtures.draft(reference: $0) }),
        Case(kind: "fiix", router: { FiixEmulator.router(state: $0) }, settings: { MoreConnectorsTests.fiix($0) }, draft: { MoreConnectorsTests.draftWithReferenceLine($0) }),
        Case(kind: "hxgn-eam", router: { HxGNEAMEmulator.router(state: $0) }, settings: { LimbleHxGNTests.hxgn($0) }, draft: { Fixtures.draft(reference: $0) }),
    ]

    @Test(arguments: cases) func exactlyOnceAmongPreloadedRecordsWithAfterApplyFailures(_ c: Case) async throws {
        try await Self.deliverAmongPreloaded(c, preload: 300, failMode: .after, seed: 29, references: (1...4).map { String(format: "MW-PRE%09d", $0) })
    }

    /// Delivers each reference through an emulator holding `preload` other work orders and failing
    /// 40 % of requests in `failMode`; the CMMS must end with the preloaded records plus exactly one
    /// work order per reference.
    static func deliverAmongPreloaded(_ c: Case, preload: Int, failMode: FailMode, seed: UInt64, references: [String],
                                      minimumFaults: Int = 1) async throws {
        var o = EmulatorOptions()
        o.preload = preload
        o.failRate = 0.4
        o.failMode = failMode
        o.seed = seed
        let emu = try await RunningEmulator.start(options: o, c.router)
        defer { emu.stop() }
        let connector = try CMMSRegistry.makeConnector(c.settings(emu.baseURL), http: HTTPClient.test())
        await Dispatch.deliverEachExactlyOnce(connector, emu, references, draft: c.draft)
        #expect(await emu.state.all().count == preload + references.count, "\(c.kind): the preloaded records plus exactly one per reference")
        #expect(await emu.state.injectedFailures >= minimumFaults, "\(c.kind): faults were injected")
    }
}
