import Evidence
import Foundation
import MillwrightCore
import Testing

/// The capture detector's decode: brightness only, at a reduced DCT scale.
@Suite struct LumaDecodeTests {
    @Test func a1080pFrameDecodesAtAQuarterAndAMatchingFrameSize() throws {
        let jpeg = try JPEG.encode(SyntheticFrame.generate(width: 1920, height: 1080, seed: 4), quality: 85)
        let l = try JPEG.decodeLuma(jpeg, coveringWidth: 320)
        #expect(l.width == 480 && l.height == 270 && l.pixels.count == 480 * 270)
        #expect(l.frameWidth == 1920 && l.frameHeight == 1080)
        // The grey agrees with the full decode's luma, averaged over the same 4×4 block.
        let full = try JPEG.decode(jpeg)
        var sum = 0
        for y in 400..<404 { for x in 800..<804 { sum += full[x, y].luma } }
        #expect(abs(Int(l.pixels[100 * 480 + 200]) - sum / 16) <= 12)
    }

    @Test func aNarrowFrameIsDecodedWhole() throws {
        let jpeg = try JPEG.encode(SyntheticFrame.generate(width: 200, height: 120, seed: 4), quality: 85)
        let l = try JPEG.decodeLuma(jpeg, coveringWidth: 320)
        #expect(l.width == 200 && l.height == 120)
    }

    @Test func damagedInputIsAnError() {
        #expect(throws: EvidenceError.self) { try JPEG.decodeLuma(Data([0xFF, 0xD8, 0xFF, 0xD9]), coveringWidth: 320) }
        #expect(throws: EvidenceError.self) { try JPEG.decodeLuma(Data(), coveringWidth: 320) }
    }

    @Test func aVariationChangesGrainAndLightButNotTheScene() {
        let a = SyntheticFrame.generate(width: 160, height: 90, seed: 8)
        #expect(SyntheticFrame.generate(width: 160, height: 90, seed: 8, variation: .none) == a)
        let grain = SyntheticFrame.generate(width: 160, height: 90, seed: 8, variation: .init(grainSeed: 99))
        #expect(grain != a)
        let meanA = a.pixels.reduce(0) { $0 + Int($1) }, meanG = grain.pixels.reduce(0) { $0 + Int($1) }
        #expect(abs(meanA - meanG) < a.pixels.count / 2, "grain alone leaves the brightness about the same")
        let dim = SyntheticFrame.generate(width: 160, height: 90, seed: 8, variation: .init(light: 0.5))
        #expect(dim.pixels.reduce(0) { $0 + Int($1) } < meanA * 6 / 10)
    }
}
