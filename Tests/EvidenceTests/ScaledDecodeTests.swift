@testable import Evidence
import Foundation
import MillwrightCore
import Testing

/// Rendering from JPEG bytes decodes at a DCT scale when the output is smaller than the
/// frame, straight into the canvas; insets still show full-resolution pixels.
@Suite("scaled decode")
struct ScaledDecodeTests {
    static let grey = RGB(90, 100, 110)

    static func jpeg(_ r: Raster, quality: Int = 95) throws -> Data { try JPEG.encode(r, quality: quality) }
    static let jpeg1080p = Result { try jpeg(SyntheticFrame.generate(width: 1920, height: 1080, seed: 5), quality: 90) }

    @Test("the decoder scale is the smallest that still covers the output")
    func chosenScale() {
        func scale(_ w: Int, _ h: Int, _ tw: Int, _ th: Int) -> JPEG.Scale { JPEG.scale(for: .init(width: w, height: h), covering: tw, th) }
        #expect(scale(1920, 1080, 960, 540) == .init(num: 1, denom: 2))
        #expect(scale(3840, 2160, 1920, 1080) == .init(num: 1, denom: 2))
        #expect(scale(1920, 1080, 1280, 720) == .init(num: 3, denom: 4))
        #expect(scale(1920, 1080, 1920, 1080) == .one)
        #expect(scale(1920, 1080, 1800, 1013) == .one)   // no factor below 1 still covers it
        #expect(scale(1001, 563, 500, 281) == .init(num: 1, denom: 2))   // 501×282, then a one-pixel resize
        #expect(scale(8000, 4500, 960, 540) == .init(num: 1, denom: 8))
    }

    @Test("1920x1080 at maxDimension 960 decodes at 1/2 and the box lands on the right pixels")
    func halfScaleBoxes() throws {
        let frame = Raster(width: 1920, height: 1080, fill: Self.grey)
        let box = BoundingBox(x: 700, y: 400, width: 300, height: 160)
        let r = try EvidenceRenderer.render(frameData: Self.jpeg(frame), annotations: [BoxAnnotation(box: box, defectClass: "corrosion", confidence: 0.9)],
                                            banner: Fixture.banner, severity: 90, options: RenderOptions(maxDimension: 960, insets: false))
        #expect(r.width == 960)
        #expect(r.height == 540 + EvidenceRenderer.bannerHeight(for: Fixture.banner, frameWidth: 960, frameHeight: 540))
        let half = BoundingBox(x: 350, y: 200, width: 150, height: 80)
        let (o, t) = EvidenceRenderer.boxOutline(for: half, frameWidth: 960, frameHeight: 540)
        let red = SeverityPalette.critical
        #expect(r[o.x + t / 2, Int(o.centerY)] == red)
        #expect(r[o.maxX - 1 - t / 2, Int(o.centerY)] == red)
        #expect(r[Int(o.centerX), o.maxY - 1 - t / 2] == red)
        // Just outside the halo and inside the gap the frame shows through.
        #expect(colorDistance(r[o.x - 3, Int(o.centerY)], Self.grey) <= 2)
        #expect(colorDistance(r[Int(half.x) + 2, Int(half.y + half.height / 2)], Self.grey) <= 2)
    }

    @Test("scaled decode matches decoding in full and box-filtering down, insets included")
    func matchesFullDecode() throws {
        let box = BoundingBox(x: 900, y: 500, width: 60, height: 10)
        let frame = SyntheticFrame.generate(width: 1920, height: 1080, seed: 21, defects: [.crack(box)])
        let data = try Self.jpeg(frame, quality: 92)
        let ann = [BoxAnnotation(box: box, defectClass: "crack", confidence: 0.9, detectionId: "D-1")]
        for dim in [960, 1280, 480] {
            let o = RenderOptions(maxDimension: dim)
            let scaled = try EvidenceRenderer.render(frameData: data, annotations: ann, banner: Fixture.banner, severity: 70, options: o)
            let full = EvidenceRenderer.render(frame: try JPEG.decode(data), annotations: ann, banner: Fixture.banner, severity: 70, options: o)
            try #require(scaled.width == full.width && scaled.height == full.height)
            let d = Golden.diff(scaled, full, threshold: 24)
            #expect(d.meanAbsDiff < 1.5 && d.fractionOver < 0.01, "at \(dim): \(d)")
        }
    }

    @Test("the inset of a scaled render shows the full-resolution defect")
    func insetIsFullResolution() throws {
        var frame = Raster(width: 1920, height: 1080, fill: Self.grey)
        // A one-pixel-wide line, which a 1/2 scale decode would smear into the grey.
        let lineColor = RGB(250, 250, 250)
        frame.fill(PixelRect(x: 930, y: 500, width: 1, height: 8), lineColor)
        let ann = BoxAnnotation(box: BoundingBox(x: 925, y: 500, width: 10, height: 8), defectClass: "crack", confidence: 0.9)
        let data = try Self.jpeg(frame, quality: 98)
        func bright(_ r: Raster) -> Int {
            var n = 0
            for y in 0..<540 { for x in 0..<960 where r[x, y].r >= 220 && r[x, y].b >= 220 { n += 1 } }
            return n
        }
        func scaled(insets: Bool) throws -> Raster {
            try EvidenceRenderer.render(frameData: data, annotations: [ann], banner: Fixture.banner, severity: 70,
                                        options: RenderOptions(maxDimension: 960, insets: insets))
        }
        let fromFullDecode = EvidenceRenderer.render(frame: try JPEG.decode(data), annotations: [ann], banner: Fixture.banner,
                                                     severity: 70, options: RenderOptions(maxDimension: 960))
        // At 1/2 scale the line blends into the grey; only the inset keeps it near white,
        // exactly as when the whole frame is decoded at full resolution.
        #expect(try bright(scaled(insets: false)) == 0)
        let n = try bright(scaled(insets: true))
        #expect(n > 0 && n == bright(fromFullDecode), "\(n) vs \(bright(fromFullDecode))")
    }

    @Test("a region decoded from a lossless crop equals the same region of the full decode",
          arguments: [PixelRect(x: 0, y: 0, width: 40, height: 30), PixelRect(x: 413, y: 517, width: 97, height: 61),
                      PixelRect(x: 1880, y: 1050, width: 40, height: 30), PixelRect(x: 31, y: 15, width: 1, height: 1),
                      PixelRect(x: 0, y: 0, width: 1920, height: 1080)])
    func regionDecode(rect: PixelRect) throws {
        let data = try Self.jpeg1080p.get()
        let region = try #require(JPEG.decodeRegion(data, rect, header: .init(width: 1920, height: 1080)))
        let full = try JPEG.decode(data)
        #expect(region == full.cropped(rect))
    }

    @Test("a region outside the image is refused, not read")
    func regionOutside() throws {
        let data = try Self.jpeg(SyntheticFrame.generate(width: 64, height: 48, seed: 5))
        let header = JPEG.Header(width: 64, height: 48)
        for rect in [PixelRect(x: -1, y: 0, width: 10, height: 10), PixelRect(x: 60, y: 0, width: 10, height: 10),
                     PixelRect(x: 0, y: 40, width: 10, height: 10), PixelRect(x: 0, y: 0, width: 0, height: 5)] {
            #expect(JPEG.decodeRegion(data, rect, header: header) == nil)
        }
    }

    @Test("odd sizes render at exactly the fitted size", arguments: [(1001, 563, 500), (1917, 1079, 958), (37, 23, 10), (2000, 17, 333)])
    func oddSizes(w: Int, h: Int, dim: Int) throws {
        let data = try Self.jpeg(SyntheticFrame.generate(width: w, height: h, seed: 7))
        let ann = BoxAnnotation(box: BoundingBox(x: Double(w) / 3, y: Double(h) / 3, width: 9, height: 5), defectClass: "crack", confidence: 0.9)
        let r = try EvidenceRenderer.render(frameData: data, annotations: [ann], banner: Fixture.banner, severity: 50,
                                            options: RenderOptions(maxDimension: dim))
        let s = Double(dim) / Double(max(w, h))
        let fw = max(1, Int((Double(w) * s).rounded())), fh = max(1, Int((Double(h) * s).rounded()))
        #expect(r.width == fw)
        #expect(r.height == fh + EvidenceRenderer.bannerHeight(for: Fixture.banner, frameWidth: fw, frameHeight: fh))
    }

    @Test("a frame already smaller than the output decodes in full, as from a raster")
    func smallerThanOutput() throws {
        let data = try Self.jpeg(Fixture.frame640(), quality: 90)
        let fromBytes = try EvidenceRenderer.render(frameData: data, annotations: [Fixture.crack, Fixture.corrosion], banner: Fixture.banner,
                                                    severity: 78, options: RenderOptions(maxDimension: 1920))
        let fromRaster = EvidenceRenderer.render(frame: try JPEG.decode(data), annotations: [Fixture.crack, Fixture.corrosion],
                                                 banner: Fixture.banner, severity: 78)
        #expect(fromBytes == fromRaster)
    }

    @Test("hostile boxes on a scaled render do not crash")
    func hostileBoxesScaled() throws {
        let data = try Self.jpeg(SyntheticFrame.generate(width: 400, height: 240, seed: 1))
        let boxes: [BoxAnnotation] = [
            .init(box: .init(x: .nan, y: 5, width: 10, height: 10), defectClass: "x", confidence: .nan),
            .init(box: .init(x: -500, y: -500, width: 10, height: 10), defectClass: "x", confidence: 2),
            .init(box: .init(x: 1e12, y: 1e12, width: 1e12, height: 1e12), defectClass: "x", confidence: -1),
            .init(box: .init(x: 399, y: 239, width: 0, height: 0), defectClass: "edge", confidence: 0.5),
            .init(box: .init(x: 10, y: 10, width: .infinity, height: -3), defectClass: "inf", confidence: 0.5),
        ]
        for dim in [200, 100, 50] {
            let r = try EvidenceRenderer.render(frameData: data, annotations: boxes, banner: Fixture.banner, severity: 500,
                                                options: RenderOptions(maxDimension: dim))
            #expect(r.width == dim)
        }
    }

    @Test("the gateway call fits a 1440p frame through the scaled path")
    func gatewayScaled() throws {
        let box = BoundingBox(x: 1200, y: 700, width: 80, height: 16)
        let data = try Self.jpeg(SyntheticFrame.generate(width: 2560, height: 1440, seed: 4, defects: [.crack(box)]), quality: 90)
        let (out, used) = try EvidenceRenderer.renderJPEG(frameData: data, annotations: [BoxAnnotation(box: box, defectClass: "crack", confidence: 0.9)],
                                                          banner: Fixture.banner, severity: 78, maxBytes: 400_000, maxDimension: 1280)
        #expect(used)
        #expect(out.width == 1280 && out.data.count <= 400_000)
    }
}
