import Foundation
import MillwrightCore
import Store
import Testing

/// Keyset pagination on a real SQLite file: a client paging through a list while detections
/// keep arriving reads every row that was there when it started exactly once, in order.
@Suite struct PagingTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-paging-\(UUID().uuidString)").path

    func rules() -> PipelineRules {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-07", asset: "A1", cmms: "sb", criticality: .a)]
        var crack = DefectRule()
        crack.minConfidence = 0.8
        s.defects["crack"] = crack
        return PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil))
    }

    /// Below the threshold: stored and listed, no incident (keeps 2,500 rows quick to write).
    func det(_ id: String, at t: Date, camera: String = "CAM-07") -> Detection {
        Detection(detectionId: id, cameraId: camera, timestamp: t, defectClass: "crack", confidence: 0.5)
    }

    @Test(.timeLimit(.minutes(3))) func pagingThrough2500DetectionsWhileNewOnesArriveSeesEachOriginalOnceInOrder() async throws {
        let store = try Store(path: dir + "/db.sqlite", durability: .normal)
        let r = rules()
        let t0 = Date().addingTimeInterval(-3600)
        // Groups of ten share a timestamp, so the id has to break ties.
        let originals = (0..<2500).map { i in det(String(format: "orig-%04d", i), at: t0.addingTimeInterval(Double(i / 10))) }
        for batch in stride(from: 0, to: originals.count, by: 500) {
            _ = try await store.ingest(Array(originals[batch..<batch + 500]), rules: r, now: t0.addingTimeInterval(300))
        }
        // Newest first; ties by id, descending.
        let expected = originals.sorted { ($0.timestamp, $0.detectionId!) > ($1.timestamp, $1.detectionId!) }.map { $0.detectionId! }

        var seen: [String] = []
        var after: PageKey?
        var pages = 0
        var inserted = 0
        repeat {
            // While this page is read, more detections arrive: newer ones (which an OFFSET
            // would push onto the next page as repeats), some at the very time of the page
            // boundary, and a late one from before it.
            let pageAfter = after
            let boundary = seen.isEmpty ? t0.addingTimeInterval(200) : originals.first { $0.detectionId == seen.last }!.timestamp
            let arriving = (0..<50).map { det("new-\(pages)-\(String(format: "%02d", $0))", at: t0.addingTimeInterval(400 + Double($0))) }
                + [det("tie-\(pages)-zzzz", at: boundary), det("tie-\(pages)-aaaa", at: boundary), det("late-\(pages)", at: t0.addingTimeInterval(-60))]
            async let page = store.detectionsPage(DetectionFilter(limit: 1000), after: pageAfter)
            async let writes: Void = { for d in arriving { _ = try await store.ingest([d], rules: r, now: t0.addingTimeInterval(600)) } }()
            let (got, _) = try await (page, writes)
            inserted += arriving.count
            seen += got.items.map(\.id)
            after = got.next
            pages += 1
            #expect(got.items.count <= 1000)
            #expect(pages < 10, "paging never ended")
        } while after != nil && pages < 10

        #expect(Set(seen).count == seen.count, "no row was listed twice")
        let originalsSeen = seen.filter { $0.hasPrefix("orig-") }
        #expect(originalsSeen.count == 2500, "every original row once (saw \(originalsSeen.count))")
        #expect(originalsSeen == expected, "in (time, id) order, newest first")
        #expect(pages >= 3)
        #expect(inserted > 0)
    }

    @Test func aPageThatEndsTheListHasNoNextKeyAndAFullOneDoes() async throws {
        let store = try Store(path: dir + "/db.sqlite", durability: .normal)
        let t0 = Date().addingTimeInterval(-60)
        _ = try await store.ingest((0..<4).map { det("d\($0)", at: t0) }, rules: rules(), now: t0)
        let exact = try await store.detectionsPage(DetectionFilter(limit: 4), after: nil)
        #expect(exact.items.count == 4 && exact.next == nil, "four rows in a page of four: the last page")
        let first = try await store.detectionsPage(DetectionFilter(limit: 3), after: nil)
        #expect(first.items.map(\.id) == ["d3", "d2", "d1"])
        let next = try #require(first.next)
        let second = try await store.detectionsPage(DetectionFilter(limit: 3), after: next)
        #expect(second.items.map(\.id) == ["d0"] && second.next == nil)
        // Filters and the key combine.
        let camera = try await store.detectionsPage(DetectionFilter(camera: "CAM-07", limit: 2), after: nil)
        #expect(camera.items.map(\.id) == ["d3", "d2"])
        let rest = try await store.detectionsPage(DetectionFilter(camera: "CAM-07", limit: 2), after: camera.next)
        #expect(rest.items.map(\.id) == ["d1", "d0"] && rest.next == nil)
    }
}
