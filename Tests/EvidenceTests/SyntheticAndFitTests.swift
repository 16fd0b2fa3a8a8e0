import Evidence
import Foundation
import MillwrightCore
import Testing

@Suite("synthetic frames")
struct SyntheticTests {
    @Test func deterministic() {
        let d: [SyntheticDefect] = [.crack(BoundingBox(x: 50, y: 60, width: 40, height: 8))]
        let a = SyntheticFrame.generate(width: 320, height: 180, seed: 99, defects: d)
        let b = SyntheticFrame.generate(width: 320, height: 180, seed: 99, defects: d)
        let c = SyntheticFrame.generate(width: 320, height: 180, seed: 100, defects: d)
        #expect(a == b)
        #expect(a != c)
        #expect(a.width == 320 && a.height == 180)
    }

    @Test("each defect kind changes its box and only its box", arguments: [0, 1, 2])
    func defectsPainted(kind: Int) {
        let box = BoundingBox(x: 100, y: 60, width: 80, height: 40)
        let defect: SyntheticDefect = [.crack(box), .corrosion(box), .misalignment(box)][kind]
        let plain = SyntheticFrame.generate(width: 320, height: 180, seed: 5)
        let with = SyntheticFrame.generate(width: 320, height: 180, seed: 5, defects: [defect])
        var inside = 0, outside = 0
        for y in 0..<180 { for x in 0..<320 where plain[x, y] != with[x, y] {
            if x >= 99 && x <= 181 && y >= 59 && y <= 101 { inside += 1 } else { outside += 1 }
        } }
        #expect(inside > 40)
        #expect(outside == 0)
    }

    @Test("has texture (not a flat fill)")
    func textured() {
        let f = SyntheticFrame.generate(width: 200, height: 120, seed: 1)
        var colours = Set<Int>()
        for y in stride(from: 0, to: 120, by: 3) { for x in stride(from: 0, to: 200, by: 3) {
            let c = f[x, y]; colours.insert(Int(c.r) << 16 | Int(c.g) << 8 | Int(c.b))
        } }
        #expect(colours.count > 200)
    }
}

@Suite("fit to attachment limits")
struct FitTests {
    static let big: Raster = {
        let box = BoundingBox(x: 900, y: 500, width: 60, height: 12)
        let f = SyntheticFrame.generate(width: 1920, height: 1080, seed: 77, defects: [.crack(box)])
        return EvidenceRenderer.render(frame: f, annotations: [BoxAnnotation(box: box, defectClass: "crack", confidence: 0.9)],
                                       banner: Fixture.banner, severity: 80)
    }()

    @Test("fits under byte and dimension limits", arguments: [(400_000, 1920), (150_000, 1280), (60_000, 1024), (25_000, 800)])
    func fits(maxBytes: Int, maxDim: Int) throws {
        let f = try Self.big.fit(maxBytes: maxBytes, maxDimension: maxDim)
        #expect(f.data.count <= maxBytes)
        #expect(max(f.width, f.height) <= maxDim)
        let back = try JPEG.decode(f.data)
        #expect(back.width == f.width && back.height == f.height)
    }

    @Test("prefers lowering quality over shrinking")
    func qualityFirst() throws {
        let full = try JPEG.encode(Self.big.fitted(maxDimension: 1280), quality: 90).count
        let f = try Self.big.fit(maxBytes: full - 1, maxDimension: 1280)
        #expect(f.width == 1280)
        #expect(f.quality < 90)
    }

    @Test func impossibleLimitThrows() {
        #expect(throws: EvidenceError.self) { try Self.big.fit(maxBytes: 500, maxDimension: 1920) }
    }

    @Test("renderFitted draws at the final size (inset and text stay crisp)")
    func renderFitted() throws {
        let box = BoundingBox(x: 900, y: 500, width: 60, height: 12)
        let frame = SyntheticFrame.generate(width: 1920, height: 1080, seed: 77, defects: [.crack(box)])
        let f = try EvidenceRenderer.renderFitted(frame: frame, annotations: [BoxAnnotation(box: box, defectClass: "crack", confidence: 0.9)],
                                                  banner: Fixture.banner, severity: 80, maxBytes: 120_000, maxDimension: 1280)
        #expect(f.data.count <= 120_000)
        #expect(f.width <= 1280)
    }

    @Test("box filter averages exactly")
    func boxFilter() {
        var r = Raster(width: 4, height: 2, fill: .black)
        r.fill(PixelRect(x: 0, y: 0, width: 1, height: 2), .white)
        let s = r.resized(width: 2, height: 1)
        #expect(s[0, 0] == RGB(128, 128, 128))
        #expect(s[1, 0] == .black)
        let up = Raster(width: 2, height: 2, fill: RGB(10, 20, 30)).resized(width: 5, height: 3)
        #expect(up[4, 2] == RGB(10, 20, 30))
    }
}
