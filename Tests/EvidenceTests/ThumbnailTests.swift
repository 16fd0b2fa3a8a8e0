@testable import Evidence
import Foundation
import Testing

@Suite("thumbnails")
struct ThumbnailTests {
    @Test("scaled to the width asked, in proportion, never enlarged")
    func sizes() throws {
        let frame = try JPEG.encode(SyntheticFrame.generate(width: 1920, height: 1080, seed: 3), quality: 85)
        let small = try JPEG.decode(JPEG.thumbnail(frame, width: 320))
        #expect(small.width == 320 && small.height == 180)
        let odd = try JPEG.decode(JPEG.thumbnail(frame, width: 333))
        #expect(odd.width == 333 && odd.height == 187)   // 1080 × 333 / 1920 = 187.3
        let narrow = try JPEG.encode(Raster(width: 200, height: 100, fill: RGB(10, 20, 30)))
        let same = try JPEG.decode(JPEG.thumbnail(narrow, width: 320))
        #expect(same.width == 200 && same.height == 100)
        #expect(JPEG.thumbnailSize(width: 4000, height: 1, maxWidth: 32) == (32, 1))
    }

    @Test("what is not a JPEG within the pixel limit is an error, not a crash")
    func hostile() throws {
        #expect(throws: EvidenceError.self) { try JPEG.thumbnail(Data([0xFF, 0xD8, 0xFF]), width: 320) }
        #expect(throws: EvidenceError.self) { try JPEG.thumbnail(Data(), width: 320) }
        let big = try JPEG.encode(Raster(width: 400, height: 400, fill: RGB(0, 0, 0)))
        #expect(throws: EvidenceError.self) { try JPEG.thumbnail(big, width: 320, maxPixels: 100 * 100) }
    }
}
