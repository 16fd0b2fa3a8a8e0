import Foundation
import Testing
import MillwrightTesting

/// Every list is read to its end a page at a time (PRODUCT §9: `?cursor=`, `next_cursor`,
/// `Link: <…>; rel="next"`); a cursor that breaks the grammar, or is another list's, is a 400 problem.
@Suite struct PaginationTests {
    struct Walk { var ids: [String] = []; var pages = 0 }

    /// Follows `Link` from `start` to the last page; checks on every page that `Link` and
    /// `next_cursor` agree and that the Link keeps the other query parameters. `between`
    /// runs after each page (to insert rows while the client pages).
    func walk(_ api: API, _ start: String, id: ([String: Any]) -> String?, between: (Int) async throws -> Void = { _ in },
              sourceLocation: SourceLocation = #_sourceLocation) async throws -> Walk {
        var result = Walk()
        var next: String? = start
        let path = String(start.prefix { $0 != "?" })
        let otherParameters = start.split(separator: "?", maxSplits: 1).dropFirst().first.map { $0.split(separator: "&").map(String.init) } ?? []
        while let target = next, result.pages < 50 {
            let r = try await api.get(target, key: "viewer-key")
            #expect(r.status == 200, "\(target): \(String(decoding: r.body, as: UTF8.self))", sourceLocation: sourceLocation)
            let items = (r.object["items"] as? [[String: Any]]) ?? []
            result.ids += items.compactMap(id)
            result.pages += 1
            let link = r.headers.first { $0.0.lowercased() == "link" }?.1
            let cursor = r.object["next_cursor"] as? String
            #expect((link == nil) == (cursor == nil), "Link and next_cursor come together (\(target))", sourceLocation: sourceLocation)
            next = nil
            if let link, let cursor {
                #expect(link.hasPrefix("<") && link.hasSuffix(">; rel=\"next\""), "RFC 8288 link: \(link)", sourceLocation: sourceLocation)
                let url = String(link.dropFirst().prefix { $0 != ">" })
                #expect(url.hasPrefix(path + "?"), "absolute path: \(url)", sourceLocation: sourceLocation)
                let query = url.split(separator: "?", maxSplits: 1).dropFirst().first.map { $0.split(separator: "&").map(String.init) } ?? []
                #expect(query.filter { $0.hasPrefix("cursor=") } == ["cursor=\(cursor)"], "cursor replaced: \(url)", sourceLocation: sourceLocation)
                #expect(query.filter { !$0.hasPrefix("cursor=") } == otherParameters.filter { !$0.hasPrefix("cursor=") },
                        "other parameters kept: \(url)", sourceLocation: sourceLocation)
                #expect(!items.isEmpty, "a page with a next page is not empty", sourceLocation: sourceLocation)
                next = url
                try await between(result.pages)
            }
        }
        return result
    }

    func expectBadCursor(_ api: API, _ path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let r = try await api.get(path, key: "viewer-key")
        #expect(r.status == 400, "\(path) → \(r.status)", sourceLocation: sourceLocation)
        #expect(r.contentType == "application/problem+json", sourceLocation: sourceLocation)
        #expect(r.object["status"] as? Int == 400 && r.object["type"] as? String == "https://millwright.dev/problems/invalid-cursor",
                "\(path): \(String(decoding: r.body, as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(r.object["request_id"] as? String != nil, sourceLocation: sourceLocation)
    }

    @Test(.timeLimit(.minutes(3))) func everyListIsReadToItsEndAndABadCursorIsA400() async throws {
        let emu = try Plant.emulator()
        defer { _ = emu.terminate() }
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base, extra: """
        shifts:
          day: { start: "00:00", end: "00:00" }
        technicians:
          - { id: T-5, name: "E", skills: [mechanical], shift: day }
          - { id: T-1, name: "A", skills: [mechanical], shift: day }
          - { id: T-3, name: "C", skills: [mechanical], shift: day }
          - { id: T-2, name: "B", skills: [electrical], shift: day }
          - { id: T-4, name: "D", skills: [electrical], shift: day }
        inventory: inventory.csv
        """)
        try "sku,on_hand,reserved,location\nBRG-1,100,0,Store A-1\n".write(toFile: plant.dir + "/inventory.csv", atomically: true, encoding: .utf8)
        var config = try String(contentsOfFile: plant.configPath, encoding: .utf8)
        config = config.replacingOccurrences(of: "\"*\": { min_confidence: 0.5,", with: "\"*\": { parts: [{ sku: BRG-1, qty: 1 }], min_confidence: 0.5,")
        try config.write(toFile: plant.configPath, atomically: true, encoding: .utf8)
        let server = try plant.serve()
        defer { _ = server.terminate() }
        let api = API(base: try await server.listening())

        // Five incidents (each its own defect class), each with a work order and a reservation;
        // 23 detections below the crack threshold on CAM-07.
        let t0 = Date().addingTimeInterval(-600)
        let incidents = (1...5).map { detection("inc-\($0)", camera: "CAM-12", defect: "leak-\($0)", confidence: 0.9, at: t0.addingTimeInterval(Double($0))) }
        let quiet = (0..<23).map { detection(String(format: "q-%02d", $0), confidence: 0.5, at: t0.addingTimeInterval(Double(10 + $0 / 4))) }
        #expect(try await api.post("/v1/detections", json: incidents + quiet, key: "ingest-key").status == 202)

        // Detections, filtered, in pages of 4, while newer ones keep arriving: each original once, in order.
        var arrived = 0
        let detections = try await walk(api, "/v1/detections?camera=CAM-07&limit=4", id: { $0["id"] as? String }) { page in
            let newer = (0..<3).map { detection("late-\(page)-\($0)", confidence: 0.5, at: Date().addingTimeInterval(-1)) }
            let posted = try await api.post("/v1/detections", json: newer, key: "ingest-key")
            #expect(posted.status == 202)
            arrived += newer.count
        }
        let originals = detections.ids.filter { $0.hasPrefix("q-") }
        #expect(detections.pages == 6, "23 in pages of 4")
        #expect(originals.count == 23 && Set(originals).count == 23, "each once: \(originals)")
        #expect(originals == originals.sorted(by: >), "newest first, ties by id")
        #expect(!detections.ids.contains { $0.hasPrefix("late-") }, "rows newer than the first page never shift into later ones")
        #expect(arrived == 15)

        // Every detection, in the default page size, comes back in one page without a Link.
        let one = try await walk(api, "/v1/detections", id: { $0["id"] as? String })
        #expect(one.pages == 1 && one.ids.count == 28 + arrived)

        let incidentWalk = try await walk(api, "/v1/incidents?limit=2&state=open", id: { $0["id"] as? String })
        #expect(incidentWalk.pages == 3 && Set(incidentWalk.ids).count == 5)
        let workOrders = try await walk(api, "/v1/work-orders?limit=2", id: { $0["id"] as? String })
        #expect(workOrders.pages == 3 && Set(workOrders.ids).count == 5)
        let reservations = try await walk(api, "/v1/inventory/reservations?limit=2", id: { r in
            (r["incident_id"] as? String).map { $0 + "/" + ((r["sku"] as? String) ?? "") } })
        #expect(reservations.pages == 3 && Set(reservations.ids).count == 5)
        #expect(Set(reservations.ids.map { String($0.prefix { $0 != "/" }) }) == Set(incidentWalk.ids))
        let technicians = try await walk(api, "/v1/technicians?limit=2", id: { $0["id"] as? String })
        #expect(technicians.ids == ["T-1", "T-2", "T-3", "T-4", "T-5"], "by id, each once")
        #expect(technicians.pages == 3)
        // The last page of an exact fit has no Link.
        #expect(try await walk(api, "/v1/technicians?limit=5", id: { $0["id"] as? String }).pages == 1)

        // Malformed cursors, on every list.
        let first = try await api.get("/v1/incidents?limit=1", key: "viewer-key").object["next_cursor"] as? String
        let incidentCursor = try #require(first)
        for list in ["/v1/detections", "/v1/incidents", "/v1/work-orders", "/v1/inventory/reservations", "/v1/technicians"] {
            for bad in ["!!!", "abc", "", "eyJhIjoxfQ", "WyJkMSIsIjAwMDAwMDAwMDAwMDAwMDAiXQ", String(repeating: "A", count: 5000), "%2B%2F%3D",
                        "i1~abc~QUJD", "i1~1e5~QUJD", "i1~1~QUJD~QUJD~QUJD", "i1~1~!!", "i1~1~" + String(repeating: "A", count: 700)] {
                try await expectBadCursor(api, "\(list)?cursor=\(bad)")
            }
            try await expectBadCursor(api, "\(list)?cursor=\(incidentCursor)&cursor=\(incidentCursor)")
            if list != "/v1/incidents" { try await expectBadCursor(api, "\(list)?cursor=\(incidentCursor)") }
        }
        // Padding is not part of base64url here.
        try await expectBadCursor(api, "/v1/incidents?cursor=\(incidentCursor)=")
        // Any string of the grammar is a position: a client generator's cursor is answered.
        let beforeEverything = try await api.get("/v1/incidents?cursor=i1~1~QUJD", key: "viewer-key")
        #expect(beforeEverything.status == 200)
        #expect((beforeEverything.object["items"] as? [Any])?.isEmpty == true, "nothing is older than 1970")
        #expect(try await api.get("/v1/incidents?limit=1&cursor=\(incidentCursor)", key: "viewer-key").status == 200)
        #expect(try await api.get("/v1/incidents?cursor=\(incidentCursor)", key: nil).status == 401)
    }
}
