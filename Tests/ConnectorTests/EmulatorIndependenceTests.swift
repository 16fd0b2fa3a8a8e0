import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// The emulators carry their own reading of each vendor's contract (the `Emulators` target does not
/// depend on `Connectors`). Where the vendor's rule can be pinned to a fixed example, both sides are
/// checked against it here, so a mistake the two might share cannot hide behind their agreement.
@Suite struct EmulatorIndependenceTests {
    /// Fiix signs `HMAC-SHA256(secret, URL without its scheme)` as lower-case hex
    /// (fiixlabs.github.io/api-documentation/guide-nosdk.html). Fiix publishes no signed example, so:
    /// RFC 4231 test case 2 (the published HMAC-SHA256 vector, key "Jefe") for the primitive and the
    /// hex form, and a request URL in the guide's form whose signature was computed outside this
    /// project (`openssl dgst -sha256 -hmac` and Python's `hmac`, both giving the value below).
    @Test func fiixSignatureMatchesTheFixedVectors() {
        let vectors: [(url: String, secret: String, signature: String)] = [
            ("what do ya want for nothing?", "Jefe", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            ("https://acme.macmms.com/api/?service=cmms&appKey=macmmsackp3bd8e3f5d7a1c2&accessKey=macmmsaakp6f1e2d3c4b5a69&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=1764374400000",
             "macmmsscrt0example0secret", "5bc49c5119684f1f6ffeb2edad3e6c2d08e052276862a2440fb2a8edfdc7340d"),
            // The scheme is not signed: http:// and no scheme at all give the same value.
            ("http://acme.macmms.com/api/?service=cmms&appKey=macmmsackp3bd8e3f5d7a1c2&accessKey=macmmsaakp6f1e2d3c4b5a69&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=1764374400000",
             "macmmsscrt0example0secret", "5bc49c5119684f1f6ffeb2edad3e6c2d08e052276862a2440fb2a8edfdc7340d"),
            ("acme.macmms.com/api/?service=cmms&appKey=macmmsackp3bd8e3f5d7a1c2&accessKey=macmmsaakp6f1e2d3c4b5a69&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=1764374400000",
             "macmmsscrt0example0secret", "5bc49c5119684f1f6ffeb2edad3e6c2d08e052276862a2440fb2a8edfdc7340d"),
        ]
        for v in vectors {
            #expect(FiixConnector.signature(url: v.url, secret: v.secret) == v.signature, "connector: \(v.url)")
            #expect(FiixEmulator.signature(signedURL: v.url, secret: v.secret) == v.signature, "emulator: \(v.url)")
        }
    }

    /// Maximo's work-order statuses as IBM lists them (WSCH, WMATL and WPCOND are synonyms of APPR;
    /// ibm.com/support/pages/maximo-support-desk-allowable-status-changes-work-orders), read by the
    /// connector and shown by the emulator in the same common terms.
    @Test func maximoStatusesFollowIBMsTableOnBothSides() async throws {
        let table: [(String, CMMSStatus)] = [
            ("WAPPR", .open), ("APPR", .open), ("WSCH", .open), ("WMATL", .open), ("WPCOND", .open),
            ("INPRG", .inProgress), ("COMP", .completed), ("CLOSE", .completed), ("CAN", .cancelled),
        ]
        let emu = try await MaximoTests.start()
        defer { emu.stop() }
        let http = HTTPClient.test()
        let c = try #require(try CMMSRegistry.makeConnector(MaximoTests.settings(emu.baseURL), http: http) as? MaximoConnector)
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        for (maximo, common) in table {
            #expect(c.mapStatus(maximo) == common, "connector: \(maximo)")
            let r = try await HTTPTransport(client: http, timeout: .seconds(30)).send(.POST, emu.baseURL + "/_emulator/maximo/work-orders/\(id)/status",
                                                                                     body: Data(#"{"status":"\#(maximo)"}"#.utf8))
            #expect(r.status == 200)
            #expect(await emu.state.find(id: id)?.status == common.rawValue, "emulator: \(maximo)")
        }
    }

    /// The sandbox checks its body against its own field table: unknown, missing and mistyped fields
    /// are refused; what the sandbox connector sends is taken.
    @Test func sandboxChecksItsOwnBodyTable() async throws {
        let emu = try await RunningEmulator.start { SandboxEmulator.router(state: $0) }
        defer { emu.stop() }
        let http = HTTPTransport(client: HTTPClient.test(), timeout: .seconds(30))
        var good: [String: JSONValue] = ["severity": .number(87), "location": .null]
        for (k, v) in [("reference", "MW-1"), ("title", "Crack"), ("description", "d"), ("asset", "10004712"), ("priority", "high"),
                       ("defect_class", "crack"), ("camera", "CAM-07"), ("detected_at", "2026-11-22T14:05:09.000Z")] { good[k] = .string(v) }
        func post(_ body: [String: JSONValue]) async throws -> HTTPTransport.Response {
            try await http.send(.POST, emu.baseURL + "/api/work-orders", headers: [("Authorization", "Bearer t"), ("Content-Type", "application/json")],
                                body: try JSONEncoder().encode(JSONValue.object(body)))
        }
        var cases: [(String, [String: JSONValue])] = []
        cases.append(("unknown field 'colour'", good.merging(["colour": .string("red")]) { $1 }))
        cases.append(("camera is required", good.filter { $0.key != "camera" }))
        cases.append(("severity must be a whole number", good.merging(["severity": .number(87.5)]) { $1 }))
        cases.append(("severity must be a whole number", good.merging(["severity": .string("87")]) { $1 }))
        cases.append(("detected_at must be an ISO 8601 time", good.merging(["detected_at": .string("yesterday")]) { $1 }))
        cases.append(("asset must be a string", good.merging(["asset": .number(10004712)]) { $1 }))
        for (detail, body) in cases {
            let r = try await post(body)
            #expect(r.status == 422, "\(detail): \(r.text)")
            #expect(r.json?["detail"]?.stringValue?.contains(detail) == true, "\(detail): \(r.text)")
        }
        #expect(await emu.state.all().isEmpty)
        let ok = try await post(good)
        #expect(ok.status == 201, "\(ok.text)")

        // What the connector sends, the sandbox takes.
        var s = TestCMMS(name: "sandbox", kind: "sandbox", baseURL: emu.baseURL)
        s.auth = .bearer(token: "t")
        s.timeout = .seconds(30)  // a deadline for a loaded machine, not a wait
        let c = try CMMSRegistry.makeConnector(s, http: HTTPClient.test())
        guard case .created = await c.create(Fixtures.draft()) else { Issue.record("the connector's body was refused"); return }
    }

    /// Every spec file the tests read is in the package and named in its SOURCES.md, and every file
    /// SOURCES.md names is there.
    @Test func specFixturesAreInThePackageAndListed() throws {
        #expect(Specs.root.path.hasPrefix(PackagePaths.root.path))
        #expect(FileManager.default.fileExists(atPath: PackagePaths.root.appendingPathComponent("Package.swift").path))
        let sources = try String(contentsOf: Specs.root.appendingPathComponent("SOURCES.md"), encoding: .utf8)
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.specs.path).sorted()
        #expect(files.count == 6, "\(files)")
        for f in files { #expect(sources.contains("| cmms/\(f) |"), "\(f) is not listed in SOURCES.md") }
        let listed = sources.split(separator: "\n").filter { $0.hasPrefix("| cmms/") }
            .compactMap { $0.split(separator: "|").first.map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "cmms/", with: "") } }
        #expect(listed.sorted() == files)
    }
}
