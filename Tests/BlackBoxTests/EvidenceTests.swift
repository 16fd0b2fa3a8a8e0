import Foundation
import Testing
import MillwrightTesting

/// The annotated image on every work order, end to end.
@Suite struct EvidenceFlowTests {
    /// A real JPEG from an independent encoder (Pillow): a grey 640×360 frame with a dark line.
    static func pillowJPEG() throws -> Data {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("frame-\(UUID().uuidString.prefix(6)).jpg").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
        from PIL import Image, ImageDraw
        im = Image.new('RGB', (640, 360), (120, 124, 130)); d = ImageDraw.Draw(im)
        d.line([(300, 200), (340, 204)], fill=(20, 20, 20), width=2); im.save('\(path)', quality=90)
        """]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let data = FileManager.default.contents(atPath: path) else {
            throw HarnessError.timeout("python3 with Pillow is needed (pip install pillow)", "")
        }
        return data
    }

    @Test(.timeLimit(.minutes(3))) func annotatedImageIsStoredAttachedServedAndAudited() async throws {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = emu.terminate() }

        var d = detection("ev-1", camera: "CAM-12", defect: "corrosion")
        d["bbox"] = ["x": 290, "y": 190, "width": 60, "height": 20]
        d["image"] = ["width": 640, "height": 360, "data_base64": try Self.pillowJPEG().base64EncodedString()]
        let posted = try await api.post("/v1/detections", json: d, key: "ingest-key")
        #expect(posted.status == 202)
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        var sha = ""
        try await API.eventually("evidence rendered and work order delivered") {
            let i = try await api.get("/v1/incidents/\(incident)").object
            sha = i["evidence_sha256"] as? String ?? ""
            return !sha.isEmpty && ((i["work_order"] as? [String: Any])?["phase"] as? String) == "delivered"
        }
        // Served by incident id and by hash, cacheable by its hash.
        let image = try await api.get("/v1/evidence/\(incident)", key: "viewer-key")
        #expect(image.status == 200)
        #expect(image.contentType == "image/jpeg")
        #expect(image.body.starts(with: [0xFF, 0xD8]))
        #expect(image.headers.contains { $0.0.lowercased() == "etag" && $0.1 == "\"\(sha)\"" })
        #expect(try await api.get("/v1/evidence/\(incident)", key: "ingest-key").status == 403)

        // The work order links to it with a signed URL that works without a key, until tampered with.
        let wo = try await api.get("/v1/work-orders?limit=1").object
        let payload = ((wo["items"] as? [[String: Any]])?.first?["payload"] as? [String: Any]) ?? [:]
        let link = try #require(payload["evidence_url"] as? String)
        #expect(link.hasPrefix("https://mw.plant.example/v1/evidence/\(sha)?exp="))
        let query = String(link[link.firstIndex(of: "?")!...])
        #expect(try await api.get("/v1/evidence/\(sha)\(query)", key: nil).status == 200)
        let forged = query.replacingOccurrences(of: "sig=", with: "sig=00")
        #expect(try await api.get("/v1/evidence/\(sha)\(forged)", key: nil).status == 403)

        // Uploaded to the CMMS as an attachment.
        try await API.eventually("attachment in the CMMS") {
            let items = (try await cmms.get("/_emulator/work-orders", key: nil).object["items"] as? [[String: Any]]) ?? []
            return (items.first?["attachments"] as? [String])?.first?.hasSuffix("-evidence.jpg") == true
        }
        #expect(server.terminate() == 0)

        // The audit chain vouches for the image: swapping the file is detected.
        let ok = try await Spawned.run(["audit", "verify", "--db", plant.dbPath])
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("1 evidence image(s) match"))
        try Data("not the evidence".utf8).write(to: URL(fileURLWithPath: plant.dir + "/data/evidence/\(sha).jpg"))
        let bad = try await Spawned.run(["audit", "verify", "--db", plant.dbPath])
        #expect(bad.status == 1)
        #expect(bad.output.contains("BROKEN evidence \(sha)"), "\(bad.output)")
    }

    @Test(.timeLimit(.minutes(2))) func aFrameThatCannotBeHadGivesAnEvidenceCardNotADelay() async throws {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = server.terminate(); _ = emu.terminate() }

        var bad = detection("b64", camera: "CAM-12", defect: "dent")
        bad["image"] = ["width": 1920, "height": 1080, "data_base64": "***not base64***"]
        let refused = try await api.post("/v1/detections", json: bad, key: "ingest-key")
        #expect(refused.status == 422)
        #expect(((refused.object["errors"] as? [[String: Any]])?.first?["field"] as? String) == "image.data_base64")

        // A frame URL the gateway may not fetch (loopback, not in evidence.fetch_allow): the work
        // order still goes out, with a card that says why without echoing what the URL answered.
        var d = detection("url-1", camera: "CAM-12", defect: "scratch")
        d["image"] = ["width": 1920, "height": 1080, "url": api.base + "/healthz"]
        let posted = try await api.post("/v1/detections", json: d, key: "ingest-key")
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        try await API.eventually("delivered with an evidence card") {
            let i = try await api.get("/v1/incidents/\(incident)").object
            return ((i["work_order"] as? [String: Any])?["phase"] as? String) == "delivered" && (i["evidence_note"] as? String)?.contains("evidence card") == true
        }
        let note = try await api.get("/v1/incidents/\(incident)").object["evidence_note"] as? String ?? ""
        #expect(note.contains("frame URL not allowed"), "\(note)")
    }
}
