import Evidence
import Foundation
import MillwrightCore
import Testing

/// Frames are judged by their header before anything is stored, and boxes that do not fit the
/// decoded frame are drawn at its edge instead of crashing the renderer.
@Suite struct FrameCheckTests {
    @Test func aRealFrameIsReadFromItsHeader() throws {
        let info = try FrameCheck.inspect(HostileInputTests.validJPEG)
        #expect(info.format == .jpeg && info.width == 96 && info.height == 64)
        #expect(try FrameCheck.inspect(HostileInputTests.validPNG).format == .png)
    }

    @Test func textIsNotAFrame() {
        #expect(throws: EvidenceError.unsupportedFormat) { try FrameCheck.inspect(Data("hello camera".utf8)) }
    }

    /// A PNG header declaring 60,000 × 900 px: refused from 24 bytes, nothing decoded.
    @Test func aHeaderPastTheLimitsIsRefused() {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        png += [0x00, 0x00, 0xEA, 0x60, 0x00, 0x00, 0x03, 0x84, 8, 2, 0, 0, 0]
        #expect(throws: EvidenceError.tooManyPixels(width: 60_000, height: 900, limit: ImageLimits.defaultMaxPixels)) {
            try FrameCheck.inspect(Data(png))
        }
    }

    @Test func boxesOffTheFrameAreDrawnAtItsEdge() {
        let frame = SyntheticFrame.generate(width: 96, height: 64, seed: 3)
        let boxes = [BoundingBox(x: 1e300, y: 5, width: 10, height: 10), BoundingBox(x: 90_000, y: 50_000, width: 1e9, height: 3),
                     BoundingBox(x: .nan, y: -.infinity, width: .infinity, height: .nan)]
        let annotations = boxes.map { BoxAnnotation(box: $0, defectClass: "crack", confidence: .nan) }
        for a in annotations {
            let c = a.clamped(toWidth: 96, height: 64).box
            #expect(c.x >= 0 && c.x + c.width <= 96 && c.y >= 0 && c.y + c.height <= 64, "\(c)")
        }
        let banner = BannerInfo(cameraId: "CAM", timestamp: Date(timeIntervalSince1970: 1_800_000_000))
        let out = EvidenceRenderer.render(frame: frame, annotations: annotations, banner: banner, severity: 80)
        #expect(out.width == 96)
        #expect(annotations[0].labelText.hasPrefix("crack 0%"))
    }
}
