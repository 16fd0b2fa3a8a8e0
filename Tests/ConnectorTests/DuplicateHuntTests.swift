import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import Hummingbird
import MillwrightCore
import MillwrightTesting
import Testing

/// The duplicate hunt (#11), for every kind with an emulator: 500 unrelated work orders already
/// in the CMMS (`--preload 500`), 40 % of requests failing, half of those after the change was
/// applied (`--fail-rate 0.4 --fail-mode mixed`: 500, 503, a dropped connection). Twenty
/// incidents go through the gateway's delivery state machine and each connector's lookup; the
/// CMMS must end with exactly twenty work orders carrying our references, each exactly once.
@Suite(.serialized) struct DuplicateHuntTests {
    static let cases: [PreloadedTenantDeliveryTests.Case] = PreloadedTenantDeliveryTests.cases + [
        PreloadedTenantDeliveryTests.Case(kind: "sandbox", router: { SandboxEmulator.router(state: $0) },
                                          settings: { var s = TestCMMS(name: "sb", kind: "sandbox", baseURL: $0); s.auth = .bearer(token: "tok"); return s },
                                          draft: { Fixtures.draft(reference: $0) }),
    ]

    @Test(arguments: cases) func twentyIncidentsMakeTwentyWorkOrdersThroughFaultsAndFiveHundredOthers(_ c: PreloadedTenantDeliveryTests.Case) async throws {
        var o = EmulatorOptions()
        o.preload = 500
        o.failRate = 0.4
        o.failMode = .mixed
        o.seed = 11
        let emu = try await RunningEmulator.start(options: o, c.router)
        defer { emu.stop() }
        let connector = try CMMSRegistry.makeConnector(c.settings(emu.baseURL), http: HTTPClient.test())
        let refs = (1...20).map { String(format: "MW-HUNT%08d", $0) }
        await Dispatch.deliverEachExactlyOnce(connector, emu, refs, draft: c.draft)
        let all = await emu.state.all()
        #expect(all.count == 500 + 20, "\(c.kind): the preloaded records plus exactly one per incident")
        #expect(await emu.state.injectedFailures >= 10, "\(c.kind): faults were injected")
    }
}
