@testable import Capture
import Detector
import Evidence
import Foundation
import Logging
import MillwrightCore
import Testing

/// The detector's worker: what capture hands it, what it drops, what it reports.
@Suite struct FrameDetectorTests {
    static let settings = DetectorSettings(learnFrames: 4, sigma: 4, minAreaPx: 80, defectClass: "anomaly")
    static let crackBox = BoundingBox(x: 100, y: 100, width: 120, height: 14)

    static func frame(_ i: Int, crack: Bool = false) throws -> FrameRing.Frame {
        let img = SyntheticFrame.generate(width: 640, height: 360, seed: 5, defects: crack ? [.crack(crackBox)] : [],
                                          variation: .init(grainSeed: UInt64(i + 1), light: 1))
        return FrameRing.Frame(at: Date(), jpeg: try JPEG.encode(img, quality: 90))
    }

    @Test func aBusyDetectorKeepsOnlyTheNewestFrameAndCountsTheRest() throws {
        let d = FrameDetector(camera: "CAM-1", settings: Self.settings, logger: Logger(label: "test"))
        let f = try Self.frame(0)
        // Nobody is analysing: the first frame waits, each later one replaces the waiting one.
        for _ in 0..<5 { d.offer(f) }
        #expect(d.current.dropped == 4)
        #expect(d.current.analysed == 0)
    }

    @Test func learnsThenReportsACrackInFramePixels() throws {
        let d = FrameDetector(camera: "CAM-1", settings: Self.settings, logger: Logger(label: "test"))
        for i in 0..<4 {
            #expect(d.analyse(try Self.frame(i))?.findings.isEmpty == true)
        }
        #expect(d.current.phase == .ready && d.current.text == "ready" && d.current.analysed == 4)
        let report = try #require(d.analyse(try Self.frame(9, crack: true)))
        #expect(report.frameWidth == 640 && report.frameHeight == 360 && report.findings.allSatisfy { $0.defectClass == "anomaly" })
        let f = try #require(report.findings.first)
        #expect(report.findings.count == 1, "\(report.findings)")
        #expect(f.x < 220 && f.x + f.width > 100 && f.y < 114 && f.y + f.height > 100, "\(f)")
        #expect(d.analyse(try Self.frame(10))?.findings.isEmpty == true)
    }

    @Test func anUndecodableFrameIsCountedAndSkipped() {
        let d = FrameDetector(camera: "CAM-1", settings: Self.settings, logger: Logger(label: "test"))
        #expect(d.analyse(FrameRing.Frame(at: Date(), jpeg: Data([0xFF, 0xD8, 0xFF, 0xD9]))) == nil)
        #expect(d.current.unreadable == 1 && d.current.analysed == 0)
    }

    @Test func relearnShowsAtOnceAndStartsOverWithTheNextFrame() throws {
        let d = FrameDetector(camera: "CAM-1", settings: Self.settings, logger: Logger(label: "test"))
        for i in 0..<4 { _ = d.analyse(try Self.frame(i)) }
        #expect(d.current.isReady)
        d.relearn()
        #expect(d.current.text == "learning 0/4")
        // The crack is now learnt as part of the view.
        for i in 0..<4 { #expect(d.analyse(try Self.frame(20 + i, crack: true))?.findings.isEmpty == true) }
        #expect(d.current.isReady)
        #expect(d.analyse(try Self.frame(30, crack: true))?.findings.isEmpty == true)
    }

    @Test(.timeLimit(.minutes(1))) func theWorkerHandsFramesWithFindingsToTheSink() async throws {
        let d = FrameDetector(camera: "CAM-1", settings: Self.settings, logger: Logger(label: "test"))
        let (reports, sink) = AsyncStream<DetectorReport>.makeStream()
        let worker = Task { await d.run { sink.yield($0) } }
        defer { worker.cancel() }
        // One frame at a time, each analysed before the next is offered: none dropped.
        for i in 0..<4 {
            d.offer(try Self.frame(i))
            let deadline = Date().addingTimeInterval(30)
            while d.current.analysed < i + 1 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(d.current.isReady && d.current.dropped == 0)
        d.offer(try Self.frame(40, crack: true))
        var it = reports.makeAsyncIterator()
        let report = try #require(await it.next())
        #expect(report.camera == "CAM-1" && report.findings.count == 1)
    }
}
