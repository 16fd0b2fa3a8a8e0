import Foundation
import Testing
import MillwrightTesting

/// A work order the CMMS keeps refusing ends in the dead letter, visible to a planner, and is
/// delivered exactly once after an admin re-drives it.
@Suite struct DeadLetterTests {
    @Test(.timeLimit(.minutes(3))) func deadLetterIsVisibleAndRedrivable() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-dl-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "some-other-token\n".write(toFile: dir + "/creds.txt", atomically: true, encoding: .utf8)
        let refusing = try Plant.emulator(["--credentials", dir + "/creds.txt"])
        let cmmsURL = try await refusing.listening()
        let port = String(cmmsURL.split(separator: ":").last ?? "")
        let plant = try Plant(cmmsURL: cmmsURL, maxAttempts: 2)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = server.terminate() }

        #expect(try await api.post("/v1/detections", json: detection("dl-1", camera: "CAM-12", defect: "leak"), key: "ingest-key").status == 202)
        var wo: [String: Any] = [:]
        try await API.eventually("dead-lettered after 2 refused attempts") {
            wo = ((try await api.get("/v1/work-orders?phase=dead_letter", key: "viewer-key").object["items"] as? [[String: Any]]) ?? []).first ?? [:]
            return !wo.isEmpty
        }
        #expect((wo["last_error"] as? String ?? "").contains("401"), "\(wo)")
        #expect(wo["attempts"] as? Int == 2)
        let metrics = String(decoding: try await api.get("/metrics", key: "viewer-key").body, as: UTF8.self)
        #expect(metrics.contains("millwright_work_orders_dead_lettered_total"))
        let id = try #require(wo["id"] as? String)
        #expect(try await api.call(.POST, "/v1/work-orders/\(id)/redrive", key: "operator-key").status == 403)

        // The CMMS is fixed (same address, credentials accepted); an admin re-drives.
        _ = refusing.terminate()
        let fixed = try Plant.emulator(["--port", port])
        defer { _ = fixed.terminate() }
        let cmms = API(base: try await fixed.listening())
        let redrive = try await api.call(.POST, "/v1/work-orders/\(id)/redrive", key: "admin-key")
        #expect(redrive.status == 202)
        try await API.eventually("delivered after the re-drive") {
            try await api.get("/v1/work-orders/\(id)").object["phase"] as? String == "delivered"
        }
        #expect(try await emulatorReferences(cmms).count == 1)
        #expect(try await api.call(.POST, "/v1/work-orders/\(id)/redrive", key: "admin-key").status == 409)
        let attempts = (try await api.get("/v1/work-orders/\(id)").object["delivery_attempts"] as? [[String: Any]]) ?? []
        #expect(attempts.map { $0["action"] as? String } .contains("lookup"), "a re-driven order is looked up before it is created again")
    }
}
