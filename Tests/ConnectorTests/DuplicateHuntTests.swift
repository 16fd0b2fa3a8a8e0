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
        try await PreloadedTenantDeliveryTests.deliverAmongPreloaded(c, preload: 500, failMode: .mixed, seed: 11,
                                                                     references: (1...20).map { String(format: "MW-HUNT%08d", $0) }, minimumFaults: 10)
    }
}
