import Foundation
import MillwrightTesting
import Testing

/// Closing the loop with the built binaries: `millwright serve` against `millwright emulate
/// maintainx`. A technician completes the work order in the emulator with a closure code, a note
/// and a photo; the gateway's own status-sync loop closes the incident and reads the closure back
/// into the timeline, the incident page and the training export.
@Suite struct ReadbackTests {
    @Test(.timeLimit(.minutes(4))) func aMaintainXClosureReachesTheIncidentPageAndTheExport() async throws {
        let emu = try Spawned(["emulate", "maintainx", "--port", "0"], name: "emulator")
        defer { _ = emu.terminate() }
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base)
        var config = try String(contentsOfFile: plant.configPath, encoding: .utf8)
        config = config.replacingOccurrences(of: "kind: sandbox\n    base_url: \(cmms.base)", with: "kind: maintainx\n    base_url: \(cmms.base)/v1")
        // MaintainX's emulator allows 60 requests a minute, as MaintainX does: poll less often than the sandbox.
        config = config.replacingOccurrences(of: "status_poll: 500ms", with: "status_poll: 2s")
        #expect(config.contains("kind: maintainx"))
        try config.write(toFile: plant.configPath, atomically: true, encoding: .utf8)
        let server = try plant.serve()
        defer { _ = server.terminate() }
        let api = API(base: try await server.listening())

        let posted = try await api.post("/v1/detections", json: detection("rb-1", confidence: 0.95, zone: "head-pulley"), key: "ingest-key")
        let incidentId = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        var cmmsId: String?
        var evidence: String?
        try await API.eventually("the work order is in MaintainX with its evidence", timeout: 90) {
            let incident = try await api.get("/v1/incidents/\(incidentId)").object
            cmmsId = (incident["work_order"] as? [String: Any])?["cmms_id"] as? String
            evidence = incident["evidence_sha256"] as? String
            return cmmsId != nil && evidence != nil
        }
        // The technician's photo: any JPEG that is not our evidence (a thumbnail of it will do).
        let photo = try await api.get("/v1/evidence/\(try #require(evidence))?w=64", key: "viewer-key").body
        let completed = try await cmms.post("/_emulator/work-orders/\(try #require(cmmsId))/complete", json: [
            "code": "Belt replaced", "notes": ["Replaced <belt> & re-tensioned"],
            "photo": ["name": "after.jpg", "content_type": "image/jpeg", "data_base64": photo.base64EncodedString()],
        ], key: nil)
        #expect(completed.status == 200)

        var readback: [String: Any]?
        try await API.eventually("the closure is read back into the timeline", timeout: 90) {
            let timeline = (try await api.get("/v1/incidents/\(incidentId)").object["timeline"] as? [[String: Any]]) ?? []
            readback = timeline.first { $0["kind"] as? String == "cmms.readback" }?["data"] as? [String: Any]
            return readback != nil
        }
        #expect(readback?["closure_code"] as? String == "DONE (Belt replaced)")
        #expect(readback?["notes"] as? [String] == ["Replaced <belt> & re-tensioned"])
        let sha = try #require(readback?["photo_sha256"] as? String)
        #expect(sha != evidence)

        let page = String(decoding: try await api.get("/ui/incidents/\(incidentId)", key: "viewer-key").body, as: UTF8.self)
        #expect(page.contains("Before and after"))
        #expect(page.contains("/v1/evidence/\(sha)"))
        #expect(page.contains("Replaced &lt;belt&gt; &amp; re-tensioned"))
        let thumb = try await api.get("/v1/evidence/\(sha)?w=32", key: "viewer-key")
        #expect(thumb.status == 200)

        let zip = try await api.get("/v1/exports/training?format=coco", key: "operator-key")
        #expect(zip.status == 200)
        #expect(zip.body.range(of: Data("images/completion-\(incidentId)-\(sha.prefix(12)).jpg".utf8)) != nil)
        #expect(zip.body.range(of: photo) != nil, "the photo's bytes, as the technician took it")
    }
}
