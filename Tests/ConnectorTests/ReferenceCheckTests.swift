import MillwrightTesting
import Testing
import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import Hummingbird
import MillwrightCore

/// `check-connection`'s existence check: each connector against its emulator holding the example tenant
/// (`Tests/Fixtures/tenants/example.yaml`), with present and absent assets, locations and users.
@Suite(.serialized) struct ReferenceCheckTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var kind: String
        /// Options added to the test settings (`asset_map`, `technical_object`).
        var options: [String: String] = [:]
        /// Each reference and the answer the tenant requires.
        var expected: [(MappedReference.Kind, String, String)]
        var testDescription: String { kind }
    }

    static func ref(_ kind: MappedReference.Kind, _ id: String) -> MappedReference { MappedReference(kind: kind, id: id, origin: "test") }

    static let cases: [Case] = [
        Case(kind: "sap-pm", options: ["technical_object": "functional_location"], expected: [
            (.asset, "10004712", "exists"), (.asset, "PUMP-9", "missing"), (.location, "1010-C2-HP", "exists"), (.location, "9999-XX", "missing"),
            (.user, "00001234", "not checkable")]),
        Case(kind: "maximo", expected: [
            (.asset, "10004712", "exists"), (.asset, "PUMP-9", "missing"), (.location, "1010-C2", "exists"), (.location, "NOWHERE", "missing"),
            (.user, "MXINTADM", "exists"), (.user, "NOBODY", "missing")]),
        Case(kind: "maintainx", expected: [
            (.asset, "3301", "exists"), (.asset, "9999", "missing"), (.asset, "PMP-7", "not checkable"),
            (.user, "4711", "exists"), (.user, "9998", "missing"), (.user, "lee@plant.example", "exists"), (.user, "ghost@plant.example", "missing")]),
        Case(kind: "upkeep", options: ["asset_map.10004712": "10004712", "asset_map.PUMP-9": "PUMP-9"], expected: [
            (.asset, "10004712", "exists"), (.asset, "PUMP-9", "missing"), (.asset, "UNMAPPED", "not checkable"),
            (.user, "ortiz@plant.example", "exists"), (.user, "ghost@plant.example", "missing")]),
        Case(kind: "limble", expected: [
            (.asset, "3301", "exists"), (.asset, "9999", "missing"), (.user, "4712", "exists"), (.user, "9998", "missing")]),
        Case(kind: "oracle-fusion", expected: [
            (.asset, "10004713", "exists"), (.asset, "PUMP-9", "missing"), (.user, "ortiz@plant.example", "not checkable")]),
        Case(kind: "fiix", expected: [
            (.asset, "3302", "exists"), (.asset, "9999", "missing"), (.user, "4711", "exists"), (.user, "9998", "missing")]),
        Case(kind: "hxgn-eam", expected: [
            (.asset, "PMP-7", "exists"), (.asset, "PUMP-9", "missing"), (.user, "MXINTADM", "not checkable")]),
    ]

    static func tenant() throws -> TenantData {
        try TenantData.load(path: PackagePaths.fixtures.appendingPathComponent("tenants/example.yaml").path)
    }

    static func run(_ c: Case, options o: EmulatorOptions) async throws -> [ReferenceCheck] {
        guard let setup = PreloadedTenantDeliveryTests.cases.first(where: { $0.kind == c.kind }) else { throw Fixtures.SpecMissing(name: c.kind) }
        let emu = try await RunningEmulator.start(options: o, setup.router)
        defer { emu.stop() }
        var settings = setup.settings(emu.baseURL)
        settings.options.merge(c.options) { $1 }
        let connector = try CMMSRegistry.makeConnector(settings, http: HTTPClient.test())
        return await connector.checkReferences(c.expected.map { ref($0.0, $0.1) })
    }

    @Test(arguments: cases) func presentAndAbsentReferencesAreToldApart(_ c: Case) async throws {
        var o = EmulatorOptions()
        o.tenant = try Self.tenant()
        let results = try await Self.run(c, options: o)
        #expect(results.count == c.expected.count)
        for (result, want) in zip(results, c.expected) {
            #expect(result.reference.id == want.1 && result.reference.kind == want.0, "\(c.kind): answers come in the order asked")
            #expect(result.status.label == want.2, "\(c.kind) \(want.0.rawValue) \(want.1): \(result.status)")
        }
    }

    /// An emulator failing every request: the check cannot know, so nothing may be called missing.
    @Test(arguments: cases) func failuresAreUnknownNeverMissing(_ c: Case) async throws {
        var o = EmulatorOptions()
        o.tenant = try Self.tenant()
        o.failRate = 1
        o.failMode = .before
        let results = try await Self.run(c, options: o)
        for (result, want) in zip(results, c.expected) {
            #expect(result.status.label == (want.2 == "not checkable" ? "not checkable" : "unknown"), "\(c.kind) \(want.1): \(result.status)")
        }
    }

    /// Without a tenant the emulators are permissive: every checkable reference exists, except a MaintainX
    /// user by e-mail, which the emulator answers from its seed crew (empty here) only.
    @Test(arguments: cases) func withoutTenantEverythingExists(_ c: Case) async throws {
        let results = try await Self.run(c, options: EmulatorOptions())
        for (result, want) in zip(results, c.expected) {
            let expected = want.2 == "not checkable" ? "not checkable" : c.kind == "maintainx" && want.1.contains("@") ? "missing" : "exists"
            #expect(result.status.label == expected, "\(c.kind) \(want.1): \(result.status)")
        }
    }

    @Test func webhookIsNotCheckable() async throws {
        var s = TestCMMS(name: "hook", kind: "webhook", baseURL: "http://127.0.0.1:9")
        s.options = ["secret_env": "hook-secret"]
        let c = try CMMSRegistry.makeConnector(s, http: HTTPClient.test())
        let results = await c.checkReferences([Self.ref(.asset, "A"), Self.ref(.user, "u")])
        #expect(results.map(\.status.label) == ["not checkable", "not checkable"])
    }

    @Test func collectsCameraZoneRegisterAndUserReferences() throws {
        var settings = Settings()
        var maximo = CMMSSettings(name: "mx", kind: "maximo", baseURL: "http://x")
        maximo.users = ["T-114": "ORTIZ", "mech": "team:7"]
        settings.cmms = [maximo, CMMSSettings(name: "other", kind: "sandbox", baseURL: "http://y")]
        settings.assets.cameras = [CameraMapping(camera: "CAM-1", asset: "PUMP-9", zones: ["seal": "PUMP-9-S"], line: 22),
                                   CameraMapping(camera: "CAM-2", asset: "ELSEWHERE", cmms: "other", line: 30)]
        let register = AssetRegister(records: [AssetRecord(assetId: "PUMP-9", functionalLocation: "FL-1", line: 14)])
        let refs = MappedReferences.collect(settings: settings, cmms: maximo, register: register, registerFile: "/plant/assets.csv", configFile: "m.yaml")
        #expect(refs == [
            MappedReference(kind: .asset, id: "PUMP-9", origin: "assets.csv:14"),
            MappedReference(kind: .location, id: "FL-1", origin: "assets.csv:14"),
            MappedReference(kind: .asset, id: "PUMP-9-S", origin: "m.yaml:22 (camera CAM-1)"),
            MappedReference(kind: .user, id: "ORTIZ", origin: "m.yaml cmms[mx].users T-114"),
        ])
    }
}
