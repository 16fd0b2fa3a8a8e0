import Evidence
import Foundation
import MillwrightCore
import Testing

@Suite("annotation renderer")
struct RenderTests {
    @Test("golden: annotated 640x360 frame (crack with inset, corrosion)")
    func goldenAnnotated() throws {
        try Golden.check(Fixture.annotated640(), "annotated_640x360.png")
    }

    @Test("golden: evidence card when no frame is available")
    func goldenCard() throws {
        try Golden.check(Fixture.card640(), "card_640x360.png")
    }

    @Test("golden: synthetic frame is stable")
    func goldenFrame() throws {
        try Golden.check(Fixture.frame640(), "synthetic_640x360.png")
    }

    @Test("output = frame + banner strip; frame pixels away from drawings are untouched")
    func layout() {
        let f = Fixture.frame640()
        let r = Fixture.annotated640()
        #expect(r.width == 640)
        #expect(r.height == 360 + EvidenceRenderer.bannerHeight(for: Fixture.banner, frameWidth: 640, frameHeight: 360))
        #expect(r[5, 355] == f[5, 355] || r[630, 5] == f[630, 5])
    }

    @Test("box stroke has the severity colour on all four sides", arguments: [(640, 360), (1920, 1080), (3840, 2160)])
    func boxColour(w: Int, h: Int) {
        let frame = Raster(width: w, height: h, fill: RGB(90, 100, 110))
        let box = BoundingBox(x: Double(w) * 0.4, y: Double(h) * 0.4, width: Double(w) * 0.1, height: Double(h) * 0.1)
        let r = EvidenceRenderer.render(frame: frame, annotations: [BoxAnnotation(box: box, defectClass: "crack", confidence: 0.9)],
                                        banner: Fixture.banner, severity: 90, options: RenderOptions(insets: false))
        let (o, t) = EvidenceRenderer.boxOutline(for: box, frameWidth: w, frameHeight: h)
        let red = SeverityPalette.critical
        #expect(r[o.x + t / 2, Int(o.centerY)] == red)
        #expect(r[o.maxX - 1 - t / 2, Int(o.centerY)] == red)
        #expect(r[Int(o.centerX), o.y + t / 2] == red || r[Int(o.centerX) + o.width / 3, o.y + t / 2] == red) // tag may sit on top edge
        #expect(r[Int(o.centerX), o.maxY - 1 - t / 2] == red)
        // Inside the box the frame is untouched (the stroke never covers the defect).
        #expect(r[Int(box.x + box.width / 2), Int(box.y + box.height / 2)] == RGB(90, 100, 110))
        #expect(r[Int(box.x) + 1, Int(box.y) + 1] == RGB(90, 100, 110))
    }

    @Test("stroke thickness scales with image size so it survives downscaling")
    func thicknessScales() {
        let b = BoundingBox(x: 10, y: 10, width: 50, height: 50)
        let t640 = EvidenceRenderer.boxOutline(for: b, frameWidth: 640, frameHeight: 360).thickness
        let t1080 = EvidenceRenderer.boxOutline(for: b, frameWidth: 1920, frameHeight: 1080).thickness
        let t4k = EvidenceRenderer.boxOutline(for: b, frameWidth: 3840, frameHeight: 2160).thickness
        #expect(t640 >= 2 && t1080 > t640 && t4k > t1080)
        // After downscaling to 480 px wide, the stroke is still ≥ 1 px.
        #expect(Double(t4k) * 480 / 3840 >= 1 && Double(t1080) * 480 / 1920 >= 1)
    }

    @Test("severity bands")
    func palette() {
        #expect(SeverityPalette.color(for: 0) == SeverityPalette.low)
        #expect(SeverityPalette.color(for: 29) == SeverityPalette.low)
        #expect(SeverityPalette.color(for: 30) == SeverityPalette.medium)
        #expect(SeverityPalette.color(for: 60) == SeverityPalette.high)
        #expect(SeverityPalette.color(for: 85) == SeverityPalette.critical)
        #expect(SeverityPalette.color(for: 100) == SeverityPalette.critical)
        #expect(SeverityPalette.band(for: 78) == "HIGH")
    }

    @Test("small defect gets a magnified inset that does not cover it")
    func insetForSmallDefect() {
        let w = 1920, h = 1080
        let grey = RGB(100, 100, 100)
        var frame = Raster(width: w, height: h, fill: grey)
        // A 60 px "crack" of a unique colour.
        let box = BoundingBox(x: 900, y: 500, width: 60, height: 8)
        let crackColor = RGB(10, 200, 250)
        frame.fill(PixelRect(x: 900, y: 503, width: 60, height: 2), crackColor)
        let ann = BoxAnnotation(box: box, defectClass: "crack", confidence: 0.9)
        let with = EvidenceRenderer.render(frame: frame, annotations: [ann], banner: Fixture.banner, severity: 70)
        let without = EvidenceRenderer.render(frame: frame, annotations: [ann], banner: Fixture.banner, severity: 70,
                                              options: RenderOptions(insets: false))
        func count(_ r: Raster) -> Int {
            var n = 0
            for y in 0..<h { for x in 0..<w where r[x, y] == crackColor { n += 1 } }
            return n
        }
        #expect(count(without) == 120)
        // Original crack still fully visible, plus a 4–6x copy (area 16–36x).
        #expect(count(with) >= 120 + 120 * 16)
        #expect(count(with) <= 120 + 120 * 36)
        for x in 900..<960 { #expect(with[x, 503] == crackColor) }
    }

    @Test("large defect gets no inset")
    func noInsetForLargeDefect() {
        let frame = Raster(width: 1920, height: 1080, fill: RGB(100, 100, 100))
        let ann = BoxAnnotation(box: BoundingBox(x: 500, y: 500, width: 400, height: 200), defectClass: "corrosion", confidence: 0.9)
        let a = EvidenceRenderer.render(frame: frame, annotations: [ann], banner: Fixture.banner, severity: 70)
        let b = EvidenceRenderer.render(frame: frame, annotations: [ann], banner: Fixture.banner, severity: 70, options: RenderOptions(insets: false))
        #expect(a == b)
    }

    @Test("label tag stays inside the frame for boxes at every edge and corner")
    func labelInsideFrame() {
        let w = 640, h = 360
        let frame = Raster(width: w, height: h, fill: RGB(0, 0, 0))
        let positions: [(Double, Double)] = [(0, 0), (600, 0), (0, 340), (600, 340), (620, 170), (-30, -30), (630, 350)]
        for (x, y) in positions {
            let ann = BoxAnnotation(box: BoundingBox(x: x, y: y, width: 40, height: 20), defectClass: "crack", confidence: 0.5,
                                    detectionId: "CAM-07-1795227240123-0")
            let r = EvidenceRenderer.render(frame: frame, annotations: [ann], banner: Fixture.banner, severity: 10,
                                            options: RenderOptions(insets: false))
            // The tag is filled with the severity colour; none of it may be cut off, so the
            // tag's coloured area must be fully inside the frame rows 0..<h.
            var tagPixels = 0
            for yy in 0..<h { for xx in 0..<w where r[xx, yy] == SeverityPalette.low { tagPixels += 1 } }
            let textW = BitmapFont.width(of: ann.labelText, scale: 2)
            #expect(tagPixels > textW * 10, "tag missing or clipped for box at \(x),\(y)")
        }
    }

    @Test("banner shows UTC and plant-local time")
    func bannerText() {
        let b = Fixture.banner
        #expect(b.utcText == "2026-11-21 02:14:00 UTC")
        #expect(b.localText == "03:14:00 +01:00 Europe/Berlin")
        let summer = BannerInfo(cameraId: "C", timestamp: Date(timeIntervalSince1970: 1_782_000_000), timeZoneIdentifier: "America/Chicago")
        #expect(summer.localText.hasSuffix("-05:00 America/Chicago"))
        let crossing = BannerInfo(cameraId: "C", timestamp: Date(timeIntervalSince1970: 1_795_227_240 + 76_560), timeZoneIdentifier: "Europe/Berlin")
        #expect(crossing.localText == "2026-11-22 00:30:00 +01:00 Europe/Berlin")
        let bad = BannerInfo(cameraId: "C", timestamp: Date(), timeZoneIdentifier: "Mars/Olympus")
        #expect(bad.localText.contains("unknown time zone"))
        #expect(Fixture.crack.labelText == "crack 93% CAM-07-1795227240123-0")
    }

    @Test("render with missing frame yields the evidence card")
    func missingFrame() {
        let r = EvidenceRenderer.render(frame: nil, annotations: [Fixture.crack], banner: Fixture.banner, severity: 90,
                                        missingFrameReason: "camera offline")
        #expect(r.width == 1280 && r.height == 720)
        #expect(r[640, 10] == SeverityPalette.critical)
    }

    @Test("maxDimension renders at the reduced size")
    func maxDimension() {
        let frame = SyntheticFrame.generate(width: 1920, height: 1080, seed: 2, defects: [.crack(BoundingBox(x: 900, y: 500, width: 60, height: 10))])
        let r = EvidenceRenderer.render(frame: frame, annotations: [BoxAnnotation(box: BoundingBox(x: 900, y: 500, width: 60, height: 10), defectClass: "crack", confidence: 0.9)],
                                        banner: Fixture.banner, severity: 50, options: RenderOptions(maxDimension: 960))
        #expect(r.width == 960)
        #expect(r.height == 540 + EvidenceRenderer.bannerHeight(for: Fixture.banner, frameWidth: 960, frameHeight: 540))
    }

    @Test("render from encoded bytes, rejecting oversized frames")
    func fromBytes() throws {
        let jpeg = try JPEG.encode(Fixture.frame640(), quality: 90)
        let r = try EvidenceRenderer.render(frameData: jpeg, annotations: [Fixture.crack], banner: Fixture.banner, severity: 78)
        #expect(r.width == 640)
        #expect(throws: EvidenceError.self) {
            try EvidenceRenderer.render(frameData: jpeg, annotations: [], banner: Fixture.banner, severity: 1,
                                        options: RenderOptions(maxPixels: 10_000))
        }
    }
}

@Suite("gateway entry point")
struct GatewayEntryTests {
    @Test("frame bytes → fitted annotated JPEG")
    func withFrame() throws {
        let jpeg = try JPEG.encode(SyntheticFrame.generate(width: 1920, height: 1080, seed: 3, defects: [.crack(BoundingBox(x: 900, y: 500, width: 60, height: 12))]), quality: 90)
        let (out, usedFrame) = try EvidenceRenderer.renderJPEG(frameData: jpeg, annotations: [Fixture.crack], banner: Fixture.banner,
                                                               severity: 78, maxBytes: 300_000, maxDimension: 1280)
        #expect(usedFrame)
        #expect(out.data.count <= 300_000 && out.width == 1280)
        #expect(try JPEG.dimensions(of: out.data).width == 1280)
    }

    @Test("no frame or a corrupt frame still yields evidence: the card")
    func withoutFrame() throws {
        let (a, usedA) = try EvidenceRenderer.renderJPEG(frameData: nil, annotations: [Fixture.crack], banner: Fixture.banner,
                                                         severity: 78, missingFrameReason: "NVR unreachable")
        #expect(!usedA)
        #expect(try JPEG.decode(a.data).width == 1280)
        let (b, usedB) = try EvidenceRenderer.renderJPEG(frameData: Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 1]), annotations: [Fixture.crack],
                                                         banner: Fixture.banner, severity: 78)
        #expect(!usedB)
        #expect(b.data.count > 1000)
    }
}

@Suite("golden comparison sensitivity")
struct GoldenSensitivityTests {
    @Test("a different severity colour is detected, the same render is not")
    func detectsChange() throws {
        guard let data = Golden.load("annotated_640x360.png"), !Golden.updating else { return }
        let golden = try PNG.decode(data)
        let same = Golden.diff(Fixture.annotated640(), golden, threshold: 12)
        #expect(same.fractionOver <= 0.002)
        let changed = EvidenceRenderer.render(frame: Fixture.frame640(), annotations: [Fixture.crack, Fixture.corrosion],
                                              banner: Fixture.banner, severity: 10)
        #expect(Golden.diff(changed, golden, threshold: 12).fractionOver > 0.002)
        // A JPEG round trip of the same image stays close on average (chroma subsampling
        // smears sharp coloured edges, which is why goldens are stored as PNG).
        let viaJPEG = try JPEG.decode(JPEG.encode(Fixture.annotated640(), quality: 95))
        #expect(Golden.diff(viaJPEG, golden, threshold: 48).meanAbsDiff < 6)
    }
}
