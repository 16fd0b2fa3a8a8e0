import Foundation
import Testing
import MillwrightTesting

/// A critical defect end to end: routed to the technician on shift, parts reserved, the
/// technician and the supervisor told at once, the next stage told when nobody acknowledges,
/// and the chain stopped by the acknowledgement. Notifications go to people's MQTT topics on
/// a real mosquitto.
@Suite struct DispatchFlowTests {
    @Test(.timeLimit(.minutes(2))) func aCriticalWorkOrderIsRoutedNotifiedEscalatedAndAcknowledged() async throws {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-flow-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let broker = try MQTTIngestTests.Broker(dir: dir)
        defer { broker.stop(); _ = emu.terminate() }
        try await broker.ready()
        let plant = try Plant(cmmsURL: cmms.base, extra: """
        shifts:
          day: { start: "00:00", end: "00:00" }
        technicians:
          - { id: T-1, name: "A. Ortiz", skills: [mechanical], shift: day, notify: { mqtt: "plant/people/T-1" } }
          - { id: T-2, name: "R. Diaz", skills: [electrical], shift: day }
        inventory: inventory.csv
        notifications:
          always: [supervisor]
          pick_list: [storeroom]
          recipients:
            supervisor: { mqtt: "plant/people/supervisor" }
            storeroom: { mqtt: "plant/people/storeroom" }
            manager: { mqtt: "plant/people/manager" }
        escalation:
          critical: [ { after: 1s, notify: [manager] }, { after: 1h, notify: [manager] } ]
        mqtt:
          broker: mqtt://127.0.0.1:\(broker.port)
          client_id: millwright-flow
        """)
        try "sku,on_hand,reserved,location\nPUL-500-HD,1,0,Store B-12\n".write(toFile: plant.dir + "/inventory.csv", atomically: true, encoding: .utf8)
        // The crack rule needs a mechanic and the pulley spare.
        var config = try String(contentsOfFile: plant.configPath, encoding: .utf8)
        config = config.replacingOccurrences(of: "crack: { min_confidence: 0.8,", with: "crack: { skills: [mechanical], parts: [{ sku: PUL-500-HD, qty: 1 }], min_confidence: 0.8,")
        try config.write(toFile: plant.configPath, atomically: true, encoding: .utf8)

        let people = try Spawned.external((findExecutable("mosquitto_sub") ?? "mosquitto_sub"), ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "plant/people/#", "-v", "-q", "1"])
        defer { people.kill9() }
        let server = try plant.serve()
        defer { _ = server.terminate() }
        let api = API(base: try await server.listening())

        let posted = try await api.post("/v1/detections", json: detection("flow-1", confidence: 0.95, zone: "head-pulley"), key: "ingest-key")
        let incidentId = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        let incident = try await api.get("/v1/incidents/\(incidentId)").object
        let workOrderId = try #require((incident["work_order"] as? [String: Any])?["id"] as? String)
        let wo = try await api.get("/v1/work-orders/\(workOrderId)").object
        let draft = try #require(wo["payload"] as? [String: Any])
        #expect(draft["assignee"] as? String == "T-1")
        #expect((draft["assignment_reason"] as? String)?.contains("mechanical ✓, on shift day") == true)
        #expect(((draft["parts_status"] as? [[String: Any]])?.first?["status"]) as? String == "reserved")
        #expect((draft["description"] as? String)?.contains("PUL-500-HD ×1 reserved at Store B-12") == true)

        // Delivered → the technician, the supervisor and the storeroom hear about it; a second later, the manager.
        let told = try await people.waitFor("plant/people/T-1 ", timeout: 30)
        let toTechnician = try #require(told.split(separator: "\n").first { $0.hasPrefix("plant/people/T-1 ") })
        #expect(toTechnician.contains("https://mw.plant.example/v1/evidence/"), "the evidence link: \(toTechnician)")
        #expect(toTechnician.contains("mechanical ✓"), "why this technician")
        _ = try await people.waitFor("plant/people/supervisor ", timeout: 10)
        let pick = try await people.waitFor("plant/people/storeroom ", timeout: 10)
        #expect(pick.contains("PUL-500-HD"))
        let escalated = try await people.waitFor("plant/people/manager ", timeout: 10)
        #expect(escalated.contains("ESCALATION (stage 1)"))

        let reservations = try await api.get("/v1/inventory/reservations").object["items"] as? [[String: Any]]
        #expect(reservations?.map { $0["sku"] as? String } == ["PUL-500-HD"])
        #expect(reservations?.first?["work_order_id"] as? String == workOrderId)

        let ack = try await api.post("/v1/work-orders/\(workOrderId)/ack", json: ["by": "T-1"], key: "operator-key")
        #expect(ack.status == 200)
        #expect(ack.object["changed"] as? Bool == true)
        let again = try await api.post("/v1/work-orders/\(workOrderId)/ack", json: [String: Any](), key: "operator-key")
        #expect(again.object["changed"] as? Bool == false)
        #expect(again.object["acknowledged_by"] as? String == "T-1")
        #expect(try await api.post("/v1/work-orders/\(workOrderId)/ack", json: [String: Any](), key: "viewer-key").status == 403)
        #expect(try await api.post("/v1/work-orders/nope/ack", json: [String: Any](), key: "operator-key").status == 404)
        let badBy = try await api.post("/v1/work-orders/\(workOrderId)/ack", json: ["by": 5], key: "operator-key")
        #expect(badBy.status == 422)
        #expect(badBy.contentType?.hasPrefix("application/problem+json") == true)
        let notJSON = try await api.call(.POST, "/v1/work-orders/\(workOrderId)/ack", key: "operator-key", body: Data("ack!".utf8))
        #expect(notJSON.status == 400)

        let techs = try await api.get("/v1/technicians", key: "viewer-key").object["items"] as? [[String: Any]]
        let t1 = try #require(techs?.first { $0["id"] as? String == "T-1" })
        #expect(t1["open_work_orders"] as? Int == 1)
        #expect(t1["on_shift"] as? Bool == true)
        #expect(((t1["work_orders"] as? [[String: Any]])?.first?["acknowledged"]) as? Bool == true)
        #expect(techs?.first { $0["id"] as? String == "T-2" }?["open_work_orders"] as? Int == 0)

        // The audit trail tells the story in order.
        let timeline = (try await api.get("/v1/incidents/\(incidentId)").object["timeline"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } ?? []
        for kind in ["work_order.routed", "work_order.notified", "work_order.escalated", "work_order.acknowledged"] {
            #expect(timeline.contains(kind), "timeline lacks \(kind): \(timeline)")
        }
    }
}

/// Stock and technicians' open work read from the CMMS (MaintainX emulator) instead of files.
@Suite struct CMMSPlanningSourceTests {
    @Test(.timeLimit(.minutes(2))) func stockAndOpenWorkComeFromMaintainX() async throws {
        let sandbox = try Plant.emulator()
        let mxEmu = try Spawned(["emulate", "maintainx", "--port", "0"], name: "maintainx")
        defer { _ = sandbox.terminate(); _ = mxEmu.terminate() }
        let mx = API(base: try await mxEmu.listening())
        let plant = try Plant(cmmsURL: API(base: try await sandbox.listening()).base, extra: """
        shifts:
          day: { start: "00:00", end: "00:00" }
        technicians:
          - { id: T-1, name: "A. Ortiz", skills: [mechanical], shift: day }
          - { id: T-2, name: "J. Lee", skills: [mechanical], shift: day }
        inventory: { cmms: mx, refresh: 1s }
        routing: { load_from: mx }
        """)
        var config = try String(contentsOfFile: plant.configPath, encoding: .utf8)
        config = config.replacingOccurrences(of: "cmms:\n  - name: sandbox", with: """
        cmms:
          - name: mx
            kind: maintainx
            base_url: \(mx.base)/v1
            auth: { bearer: { token_env: MW_SANDBOX_TOKEN } }
            maintainx: { users: { T-1: "ortiz@plant.example", T-2: "4712" } }
          - name: sandbox
        """)
        config = config.replacingOccurrences(of: "crack: { min_confidence: 0.8,", with: "crack: { skills: [mechanical], parts: [{ sku: PUL-500-HD, qty: 1 }], min_confidence: 0.8,")
        try config.write(toFile: plant.configPath, atomically: true, encoding: .utf8)
        // Lee already has two open work orders in MaintainX, made by people, not by Millwright.
        for title in ["Replace idler", "Lube drive chain"] {
            let r = try await mx.post("/v1/workorders", json: ["title": title, "assignees": [["type": "USER", "id": 4712]]], key: "sandbox-token")
            #expect(r.status < 300, "\(String(decoding: r.body, as: UTF8.self))")
        }

        let server = try plant.serve()
        defer { _ = server.terminate() }
        let api = API(base: try await server.listening())
        try await API.eventually("stock read from MaintainX") {
            try sqlite(plant.dbPath, "SELECT on_hand || '/' || external_reserved FROM inventory WHERE sku = 'PUL-500-HD'") == ["3/1"]
        }
        try await API.eventually("Lee's open work read from MaintainX") {
            let techs = try await api.get("/v1/technicians").object["items"] as? [[String: Any]]
            return techs?.first { $0["id"] as? String == "T-2" }?["open_work_orders"] as? Int == 2
        }
        let posted = try await api.post("/v1/detections", json: detection("mx-1", confidence: 0.95, zone: "head-pulley"), key: "ingest-key")
        let incidentId = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        let wo = try #require((try await api.get("/v1/incidents/\(incidentId)").object["work_order"] as? [String: Any])?["id"] as? String)
        let draft = try #require(try await api.get("/v1/work-orders/\(wo)").object["payload"] as? [String: Any])
        #expect(draft["assignee"] as? String == "T-1", "Lee carries two open work orders in MaintainX")
        let part = (draft["parts_status"] as? [[String: Any]])?.first
        #expect(part?["status"] as? String == "reserved")
        #expect(part?["free"] as? Int == 1, "3 in stock, 1 reserved in MaintainX, 1 now by Millwright")
    }
}
