import Foundation
import Testing
import MillwrightTesting

/// Bad input gets a clear problem document and nothing is stored; roles are enforced.
@Suite struct APITests {
    func start() async throws -> (Spawned, Spawned, API, API, Plant) {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base)
        let server = try plant.serve()
        return (emu, server, API(base: try await server.listening()), cmms, plant)
    }

    func storedCount(_ api: API) async throws -> Int {
        try await api.get("/v1/stats").object["detections_total"] as? Int ?? -1
    }

    func expectProblem(_ r: API.Reply, _ status: Int, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == status, sourceLocation: sourceLocation)
        #expect(r.contentType == "application/problem+json", sourceLocation: sourceLocation)
        let o = r.object
        #expect(o["status"] as? Int == status, sourceLocation: sourceLocation)
        #expect((o["detail"] as? String ?? "").contains(text), "detail: \(o["detail"] ?? "none")", sourceLocation: sourceLocation)
        #expect(o["type"] as? String != nil && o["title"] as? String != nil, sourceLocation: sourceLocation)
    }

    @Test(.timeLimit(.minutes(3))) func badInputIsRefusedClearlyAndNothingIsStored() async throws {
        let (emu, server, api, _, _) = try await start()
        defer { _ = server.terminate(); _ = emu.terminate() }

        expectProblem(try await api.call(.POST, "/v1/detections", key: "ingest-key", body: Data("{\"camera_id\": ".utf8)), 400, "not valid JSON")
        let wrongType = try await api.post("/v1/detections", json: ["camera_id": "CAM-07", "timestamp": "2026-11-21T02:14:00Z", "defect_class": "crack", "confidence": "high"], key: "ingest-key")
        expectProblem(wrongType, 422, "confidence")
        #expect(((wrongType.object["errors"] as? [[String: Any]])?.first?["field"] as? String) == "confidence")
        var outside = detection("bbox-out")
        outside["bbox"] = ["x": 1900, "y": 10, "width": 64, "height": 18]
        expectProblem(try await api.post("/v1/detections", json: outside, key: "ingest-key"), 422, "right edge")
        var future = detection("future")
        future["timestamp"] = ISO8601DateFormatter.withMillis.string(from: Date().addingTimeInterval(3600))
        expectProblem(try await api.post("/v1/detections", json: future, key: "ingest-key"), 422, "future")
        let big = Data("[".utf8) + Data(repeating: 0x20, count: 9 << 20) + Data("]".utf8)
        expectProblem(try await api.call(.POST, "/v1/detections", key: "ingest-key", body: big), 413, "limit")
        let tooMany = (0..<1001).map { detection("many-\($0)") }
        expectProblem(try await api.post("/v1/detections", json: tooMany, key: "ingest-key"), 413, "1001 items")
        expectProblem(try await api.post("/v1/detections?format=yolo9000", json: detection("f"), key: "ingest-key"), 400, "not supported")
        #expect(try await storedCount(api) == 0, "a refused request left rows behind")

        // A mixed batch keeps the good item, reports the bad one by index.
        let mixed = try await api.post("/v1/detections", json: [detection("good-1"), ["camera_id": "CAM-07", "defect_class": "crack", "confidence": 2.0]], key: "ingest-key")
        #expect(mixed.status == 202)
        #expect(mixed.object["accepted"] as? [String] == ["good-1"])
        let rejected = (mixed.object["rejected"] as? [[String: Any]]) ?? []
        #expect(rejected.count == 1 && rejected.first?["index"] as? Int == 1)
        #expect(try await storedCount(api) == 1)

        // An unmapped camera is not an error: it is kept as an orphan, never dropped.
        let orphan = try await api.post("/v1/detections", json: detection("who", camera: "CAM-404"), key: "ingest-key")
        #expect(orphan.status == 202)
        let result = (orphan.object["results"] as? [[String: Any]])?.first
        #expect(result?["status"] as? String == "orphaned")
        #expect((result?["reason"] as? String ?? "").contains("CAM-404"))
        let notInRegister = try await api.post("/v1/detections", json: detection("reg", camera: "CAM-05"), key: "ingest-key")
        #expect(((notInRegister.object["results"] as? [[String: Any]])?.first?["reason"] as? String ?? "").contains("not in the CMMS asset register"))
        let orphans = (try await api.get("/v1/detections?status=orphaned", key: "viewer-key").object["items"] as? [[String: Any]]) ?? []
        #expect(Set(orphans.compactMap { $0["id"] as? String }) == ["who", "reg"])

        // Idempotency: the same detection_id twice is stored once.
        let again = try await api.post("/v1/detections", json: detection("good-1"), key: "ingest-key")
        #expect((again.object["results"] as? [[String: Any]])?.first?["duplicate"] as? Bool == true)
        #expect(try await storedCount(api) == 3)
    }

    @Test(.timeLimit(.minutes(2))) func rolesAndProblemDocuments() async throws {
        let (emu, server, api, _, _) = try await start()
        defer { _ = server.terminate(); _ = emu.terminate() }
        #expect(try await api.get("/healthz", key: nil).status == 200)
        expectProblem(try await api.get("/v1/incidents", key: nil), 401, "Bearer")
        expectProblem(try await api.get("/v1/incidents", key: "wrong"), 401, "not valid")
        expectProblem(try await api.get("/v1/incidents", key: "ingest-key"), 403, "role ingest")
        expectProblem(try await api.post("/v1/detections", json: detection("v"), key: "viewer-key"), 403, "role viewer")
        expectProblem(try await api.get("/v1/nothing-here"), 404, "no route")
        // A path the API has, with a method it does not take: 405 and Allow, not 404.
        let delete = try await api.call(.DELETE, "/v1/incidents/some-id")
        expectProblem(delete, 405, "takes GET")
        #expect(delete.headers.first { $0.0.lowercased() == "allow" }?.1 == "GET")
        let trace = try await api.call(.TRACE, "/healthz", key: nil)
        expectProblem(trace, 405, "TRACE is not allowed")
        #expect(trace.headers.first { $0.0.lowercased() == "allow" }?.1 == "GET")
        #expect(try await api.call(.PUT, "/v1/detections").headers.first { $0.0.lowercased() == "allow" }?.1 == "GET, POST")
        expectProblem(try await api.get("/v1/incidents/does-not-exist", key: "viewer-key"), 404, "incident not found")
        expectProblem(try await api.get("/v1/detections?status=great", key: "viewer-key"), 400, "status")
        #expect(try await api.get("/v1/work-orders?shadow=true", key: "viewer-key").status == 200)
        #expect(try await api.get("/metrics", key: "viewer-key").status == 200)
        let posted = try await api.post("/v1/detections", json: detection("fb", camera: "CAM-12", defect: "corrosion"), key: "ingest-key")
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        expectProblem(try await api.post("/v1/incidents/\(incident)/feedback", json: ["verdict": "false_positive"], key: "viewer-key"), 403, "role viewer")
        expectProblem(try await api.post("/v1/incidents/\(incident)/feedback", json: ["verdict": "maybe"], key: "operator-key"), 422, "verdict")
        expectProblem(try await api.post("/v1/incidents/\(incident)/feedback", json: ["verdict": "confirmed", "by": ["x": 1]], key: "operator-key"), 422, "by must be a string")
        expectProblem(try await api.post("/v1/incidents/\(incident)/feedback", json: ["verdict": "confirmed", "note": 7], key: "operator-key"), 422, "note must be a string")
        let fb = try await api.post("/v1/incidents/\(incident)/feedback", json: ["verdict": "false_positive", "by": "planner", "note": "glare"], key: "operator-key")
        #expect(fb.status == 200)
        #expect(fb.object["state"] as? String == "closed")
        #expect(fb.object["resolution"] as? String == "false_positive")
        let metrics = String(decoding: try await api.get("/metrics", key: "viewer-key").body, as: UTF8.self)
        #expect(metrics.contains("millwright_detections_total"))
    }

    @Test(.timeLimit(.minutes(2))) func cmmsStatusClosesTheIncidentAndSigtermExitsCleanly() async throws {
        let (emu, server, api, cmms, _) = try await start()
        defer { _ = emu.terminate() }
        let posted = try await api.post("/v1/detections", json: detection("st-1", camera: "CAM-07", zone: "head-pulley"), key: "ingest-key")
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        var cmmsId = ""
        try await API.eventually("work order delivered") {
            let i = try await api.get("/v1/incidents/\(incident)").object
            cmmsId = ((i["work_order"] as? [String: Any])?["cmms_id"] as? String) ?? ""
            return !cmmsId.isEmpty
        }
        let detail = try await api.get("/v1/incidents/\(incident)").object
        #expect(detail["asset"] as? String == "10004712") // the zone's sub-asset
        #expect(((detail["timeline"] as? [[String: Any]]) ?? []).contains { $0["kind"] as? String == "incident.opened" })
        let wo = try await api.get("/v1/work-orders/\((detail["work_order"] as? [String: Any])?["id"] as? String ?? "")").object
        let payload = (wo["payload"] as? [String: Any]) ?? [:]
        #expect(payload["asset"] as? String == "10004712")
        #expect(payload["location"] as? String == "Line 2")
        #expect((payload["description"] as? String ?? "").contains("Severity:"))
        #expect(((wo["delivery_attempts"] as? [[String: Any]]) ?? []).count >= 1)

        let patched = try await cmms.call(.PATCH, "/api/work-orders/\(cmmsId)", key: "x", body: Data(#"{"status":"completed"}"#.utf8))
        #expect(patched.status == 200)
        try await API.eventually("incident closed by CMMS status") {
            try await api.get("/v1/incidents/\(incident)").object["state"] as? String == "closed"
        }
        // A repeat right after closure is suppressed (reopen_after defaults to 30 minutes).
        let repeatPost = try await api.post("/v1/detections", json: detection("st-2", camera: "CAM-07", zone: "head-pulley"), key: "ingest-key")
        #expect((repeatPost.object["results"] as? [[String: Any]])?.first?["status"] as? String == "suppressed_repeat")
        #expect(server.terminate() == 0) // SIGTERM: graceful, exit 0
    }

    @Test(.timeLimit(.minutes(1))) func openapiDocumentIsServed() async throws {
        let (emu, server, api, _, _) = try await start()
        defer { _ = server.terminate(); _ = emu.terminate() }
        let r = try await api.get("/openapi.yaml", key: "viewer-key")
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self).hasPrefix("openapi: 3.1.0"))
        let page = try await api.get("/", key: nil)
        #expect(page.status == 200 && String(decoding: page.body, as: UTF8.self).contains("<script src=\"/ui/board.js\" defer></script>"))
    }
}
