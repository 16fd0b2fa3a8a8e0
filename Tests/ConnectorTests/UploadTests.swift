import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import Hummingbird
import MillwrightCore
import Testing
import MillwrightTesting

/// Evidence uploads to Limble (the task's main image, multipart) and Fiix (FileContents + File):
/// the bytes arrive exactly, and each emulator holds the connector to its system's rules.
@Suite(.serialized) struct UploadTests {
    /// Random bytes framed as a JPEG, with a run that looks like multipart framing in the middle.
    static let evidence: Data = {
        var rng = SplitMix64(seed: 7)
        var bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0]
        for i in 0..<6000 { bytes.append(UInt8(truncatingIfNeeded: rng.next() >> (i % 8))) }
        bytes += Array("\r\n--millwright-\r\nContent-Type: text/plain\r\n\r\n".utf8)
        bytes += [0xFF, 0xD9]
        return Data(bytes)
    }()

    /// Starts an emulator whose upload limit the evidence exceeds, creates a work order, and checks
    /// that the upload is refused and nothing is kept; answers the work order's id.
    static func refusedOverTheLimit(_ router: @escaping (EmulatorState) -> Hummingbird.Router<BasicRequestContext>,
                                    _ settings: (String) -> TestCMMS) async throws -> (RunningEmulator, String) {
        var o = EmulatorOptions()
        o.uploadLimitBytes = 1000
        let emu = try await RunningEmulator.start(options: o, router)
        let c = try CMMSRegistry.makeConnector(settings(emu.baseURL), http: HTTPClient.test())
        guard case .created(let id) = await c.create(Fixtures.draft()) else { emu.stop(); throw Unexpected.notCreated }
        #expect(await !c.attach(cmmsId: id, filename: "big.jpg", jpeg: evidence))
        #expect(await emu.state.find(id: id)?.attachments == [])
        return (emu, id)
    }

    enum Unexpected: Error { case notCreated }

    // MARK: Limble

    @Test func limbleImageArrivesByteExact() async throws {
        let emu = try await RunningEmulator.start { LimbleEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(LimbleHxGNTests.limble(emu.baseURL), http: HTTPClient.test())
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        #expect(await c.attach(cmmsId: id, filename: "MW-ABCDEF123456-evidence.jpg", jpeg: Self.evidence))
        #expect(await emu.state.file(id: id, name: "MW-ABCDEF123456-evidence.jpg") == Self.evidence)
        #expect(await emu.state.find(id: id)?.attachments == ["MW-ABCDEF123456-evidence.jpg"])
        #expect(await !c.attach(cmmsId: "999999", filename: "x.jpg", jpeg: Self.evidence), "no such task")
        #expect(c.attachmentLimitBytes < 50 << 20)
        let checks = await c.checkConnection()
        #expect(checks.last?.detail.contains("/image") == true)
    }

    @Test func limbleRefusesImagesOverTheLimitAndOtherFileTypes() async throws {
        let (emu, id) = try await Self.refusedOverTheLimit(LimbleEmulator.router, { LimbleHxGNTests.limble($0) })
        defer { emu.stop() }
        let t = HTTPTransport(client: HTTPClient.test(), timeout: .seconds(5))
        let auth = HTTPTransport.authHeaders(.client(id: "client", secret: "secret"))
        let pdf = Multipart.file(field: "image", filename: "report.pdf", contentType: "application/pdf", data: Data("%PDF-1.4".utf8))
        let wrongType = try await t.send(.PUT, emu.baseURL + "/v2/tasks/\(id)/image", headers: auth + [("Content-Type", pdf.contentType)], body: pdf.body)
        #expect(wrongType.status == 415 && LimbleConnector.describe(wrongType).contains("JPEG"))
        let other = Multipart.file(field: "file", filename: "e.jpg", contentType: "image/jpeg", data: Data([0xFF, 0xD8]))
        let wrongField = try await t.send(.PUT, emu.baseURL + "/v2/tasks/\(id)/image", headers: auth + [("Content-Type", other.contentType)], body: other.body)
        #expect(wrongField.status == 400 && LimbleConnector.describe(wrongField).contains("image is required"))
        let raw = try await t.send(.PUT, emu.baseURL + "/v2/tasks/\(id)/image", headers: auth + [("Content-Type", "image/jpeg")], body: Data([0xFF, 0xD8]))
        #expect(raw.status == 400)
        #expect(await emu.state.find(id: id)?.attachments == [])
    }

    // MARK: Fiix

    @Test func fiixFileArrivesByteExactOnTheWorkOrder() async throws {
        let emu = try await RunningEmulator.start(options: .accepting(["acc:s3cret"])) { FiixEmulator.router(state: $0) }
        defer { emu.stop() }
        let c = try CMMSRegistry.makeConnector(MoreConnectorsTests.fiix(emu.baseURL), http: HTTPClient.test())
        guard case .created(let id) = await c.create(Fixtures.draft()) else { Issue.record("not created"); return }
        #expect(await c.attach(cmmsId: id, filename: "MW-ABCDEF123456-evidence.jpg", jpeg: Self.evidence))
        #expect(await emu.state.file(id: id, name: "MW-ABCDEF123456-evidence.jpg") == Self.evidence)
        #expect(await !c.attach(cmmsId: "999999", filename: "x.jpg", jpeg: Self.evidence), "no such work order")
        #expect(await emu.state.all().allSatisfy { $0.id == id || $0.attachments.isEmpty })
    }

    @Test func fiixRefusesFilesOverTheLimitAndContentsThatDisagreeWithTheirSize() async throws {
        let (emu, id) = try await Self.refusedOverTheLimit(FiixEmulator.router, { MoreConnectorsTests.fiix($0) })
        defer { emu.stop() }
        let url = emu.baseURL + "/api/?service=cmms&appKey=app&accessKey=acc&signatureMethod=HmacSHA256&signatureVersion=1&timestamp=\(Int64(Date().timeIntervalSince1970 * 1000))"
        let headers = [("Authorization", FiixConnector.signature(url: url, secret: "s3cret")), ("Content-Type", "text/plain")]
        let t = HTTPTransport(client: HTTPClient.test(), timeout: .seconds(5))
        for (object, expected) in [(#"{"className":"FileContents","strName":"a.jpg","strMimeType":"image/jpeg","strContents":"/9j/","intSize":99}"#, "does not match"),
                                   (#"{"className":"FileContents","strName":"a.jpg","strContents":"/9j/"}"#, "strMimeType"),
                                   (#"{"className":"FileContents","strName":"a.jpg","strMimeType":"image/jpeg","strContents":"not base64!"}"#, "base64"),
                                   (#"{"className":"File","intWorkOrderID":\#(id),"intFileContentsID":123456,"strName":"a.jpg"}"#, "FileContents")] {
            let cls = object.contains("\"File\"") ? "File" : "FileContents"
            let r = try await t.send(.POST, url, headers: headers, body: Data(#"{"_maCn":"AddRequest","className":"\#(cls)","object":\#(object)}"#.utf8))
            let error = r.json?["error"]?["message"]?.stringValue ?? ""
            #expect(error.contains(expected), "\(object): \(r.text)")
        }
    }
}
