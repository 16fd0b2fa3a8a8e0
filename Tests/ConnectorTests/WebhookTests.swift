import AsyncHTTPClient
import Connectors
import Crypto
import Foundation
import Hummingbird
import MillwrightCore
import NIOCore
import MillwrightTesting
import Testing

/// The webhook connector against a real HTTP receiver that verifies the signature the way
/// a plant's integration would.
@Suite struct WebhookTests {
    actor Received {
        var bodies: [(headers: [String: String], body: Data)] = []
        func add(_ h: [String: String], _ b: Data) { bodies.append((h, b)) }
    }

    func draft() -> WorkOrderDraft {
        let sev = SeverityBreakdown(base: 70, size: 2, growth: 0, criticality: 15, history: 0, total: 87, notes: [])
        return WorkOrderDraft(reference: "MW-ABCDEF123456", incidentId: "inc-1", title: "Crack at C2 head pulley", description: "long text",
                              asset: "10004712", assetName: "C2 head pulley", location: "Line 2", functionalLocation: nil, defectClass: "crack",
                              zone: "head-pulley", severity: 87, severityBreakdown: sev, priority: .critical, priorityRule: "rule 1", confidence: 0.93,
                              camera: "CAM-07", detectedAt: Date(), detectionId: "d1", productionOrder: "PO-4471", shift: "B", procedure: "Lock out.",
                              parts: [], skills: [], evidenceURL: nil, site: "plant-1")
    }

    /// A receiver that keeps what it is sent and answers `{"id":"T-1"}`.
    func receiver() async throws -> (url: String, received: Received, server: LocalHTTPServer) {
        let received = Received()
        let router = Hummingbird.Router()
        router.post("/hook") { request, _ in
            var req = request
            let body = try await req.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for f in request.headers { headers[f.name.canonicalName] = f.value }
            await received.add(headers, Data(body.readableBytesView))
            return Response(status: .accepted, body: .init(byteBuffer: ByteBuffer(string: #"{"id":"T-1"}"#)))
        }
        let server = try await LocalHTTPServer.start(router)
        return (server.baseURL + "/hook", received, server)
    }

    @Test func signedPostThatAReceiverCanVerify() async throws {
        let (url, received, server) = try await receiver()
        defer { server.stop() }

        var settings = TestCMMS(name: "hook", kind: "webhook", baseURL: url)
        settings.options["secret_env"] = "s3cret"
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let connector = try CMMSRegistry.makeConnector(settings, http: http)
        let outcome = await connector.create(draft())
        #expect(outcome == .created(cmmsId: "T-1"))

        let got = try #require(await received.bodies.first)
        let ts = try #require(got.headers["x-millwright-timestamp"])
        let sig = try #require(got.headers["x-millwright-signature"])
        #expect(got.headers["idempotency-key"] == "MW-ABCDEF123456")
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data("s3cret".utf8)))
        mac.update(data: Data((ts + ".").utf8))
        mac.update(data: got.body)
        let expected = "v1=" + Data(mac.finalize()).map { String(format: "%02x", $0) }.joined()
        #expect(sig == expected)
        let json = try #require(try JSONSerialization.jsonObject(with: got.body) as? [String: Any])
        #expect(json["event"] as? String == "work_order.created")
        let wo = try #require(json["work_order"] as? [String: Any])
        #expect(wo["reference"] as? String == "MW-ABCDEF123456")
        #expect(wo["asset"] as? String == "10004712")
        #expect(wo["priority"] as? String == "critical")
        // A tampered body no longer matches.
        var forged = HMAC<SHA256>(key: SymmetricKey(data: Data("s3cret".utf8)))
        forged.update(data: Data((ts + ".").utf8))
        forged.update(data: got.body + Data(" ".utf8))
        #expect("v1=" + Data(forged.finalize()).map { String(format: "%02x", $0) }.joined() != sig)
        try await http.shutdown()
    }

    /// A receiver has no title length, so the rendered title arrives whole; the fields arrive as text
    /// under the plant's own names, beside the work order.
    @Test func titleTemplateAndFieldsArriveInTheEnvelope() async throws {
        let (url, received, server) = try await receiver()
        defer { server.stop() }
        var settings = TestCMMS(name: "hook", kind: "webhook", baseURL: url)
        settings.options["secret_env"] = "s3cret"
        settings.titleTemplate = "{defect} at {asset_name}, zone {zone}, camera {camera}, order {production_order}"
        settings.fields = ["LocationOfDamage": "{zone}", "costCenter": "{asset}", "empty": "{functional_location}"]
        #expect(try await CMMSRegistry.makeConnector(settings, http: HTTPClient.test()).create(draft()) == .created(cmmsId: "T-1"))
        let got = try #require(await received.bodies.first)
        let json = try #require(try JSONSerialization.jsonObject(with: got.body) as? [String: Any])
        #expect((json["work_order"] as? [String: Any])?["title"] as? String == "crack at C2 head pulley, zone head-pulley, camera CAM-07, order PO-4471")
        #expect(json["fields"] as? [String: String] == ["LocationOfDamage": "head-pulley", "costCenter": "10004712"])
    }

    @Test func webhookWithoutSecretIsAConfigurationError() throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { try? http.syncShutdown() }
        #expect(throws: ConfigError.self) { try CMMSRegistry.makeConnector(TestCMMS(name: "h", kind: "webhook", baseURL: "http://127.0.0.1:1"), http: http) }
    }
}
