import Detector
import Testing

/// The reference detector on synthetic grey pictures: a 200×150 working picture standing for a
/// 800×600 frame (4 frame pixels per working pixel each way), a textured view with sensor noise.
@Suite struct ReferenceDetectorTests {
    static let w = 200, h = 150, frameW = 800, frameH = 600

    /// A fixed view: a gradient, a darker band (the belt) and a bright bar, plus ±`noise` grey
    /// levels of noise from `seed`, all times `gain` (the light).
    static func view(seed: UInt64, gain: Double = 1, noise: Int = 3) -> GreyImage {
        var img = GreyImage(width: w, height: h, fill: 0)
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        for y in 0..<h {
            for x in 0..<w {
                var v = 90 + x / 5 + y / 6
                if y >= 50 && y < 100 { v -= 40 }
                if x >= 150 && x < 160 { v += 60 }
                s = s &* 6364136223846793005 &+ 1442695040888963407
                v += Int((s >> 33) % UInt64(2 * noise + 1)) - noise
                img[x, y] = UInt8(max(0, min(255, Double(v) * gain)).rounded())
            }
        }
        return img
    }

    /// A dark crack, two working pixels thick, from (x0, y) running right `length` pixels and
    /// drifting down one pixel every ten.
    static func crack(_ img: GreyImage, x0: Int = 40, y: Int = 70, length: Int = 50) -> GreyImage {
        var out = img
        for i in 0..<length {
            let yy = y + i / 10
            out[x0 + i, yy] = 15
            out[x0 + i, yy + 1] = 15
        }
        return out
    }

    static func learnt(_ p: ReferenceDetector.Parameters = .init(learnFrames: 10)) -> ReferenceDetector {
        var d = ReferenceDetector(p)
        for i in 0..<p.learnFrames {
            #expect(d.analyse(view(seed: UInt64(i)), frameWidth: frameW, frameHeight: frameH).isEmpty)
        }
        #expect(d.phase == .ready)
        return d
    }

    @Test func learnsFromTheConfiguredNumberOfFrames() {
        var d = ReferenceDetector(.init(learnFrames: 3))
        #expect(d.phase == .learning(seen: 0, of: 3))
        _ = d.analyse(Self.view(seed: 1), frameWidth: Self.frameW, frameHeight: Self.frameH)
        _ = d.analyse(Self.view(seed: 2), frameWidth: Self.frameW, frameHeight: Self.frameH)
        #expect(d.phase == .learning(seen: 2, of: 3))
        // A crack while learning is learnt, not reported.
        #expect(d.analyse(Self.crack(Self.view(seed: 3)), frameWidth: Self.frameW, frameHeight: Self.frameH).isEmpty)
        #expect(d.phase == .ready)
    }

    @Test func aDarkCrackIsOneBoxWhereItIs() throws {
        var d = Self.learnt()
        let found = d.analyse(Self.crack(Self.view(seed: 99)), frameWidth: Self.frameW, frameHeight: Self.frameH)
        #expect(found.count == 1)
        let f = try #require(found.first)
        // The crack covers working x 40…89, y 70…75: frame x 160…360, y 280…304.
        #expect(abs(f.x - 160) <= 8 && abs(f.y - 280) <= 8, "\(f)")
        #expect(abs(f.x + f.width - 360) <= 8 && abs(f.y + f.height - 304) <= 8, "\(f)")
        #expect(f.areaPx >= 80)
        #expect(f.confidence > 0.9 && f.confidence <= 1, "\(f)")
        #expect(f.peakZ > 4)
    }

    @Test func noiseAndAChangeOfLightAreNotDefects() {
        var d = Self.learnt()
        for seed in 100..<120 {
            #expect(d.analyse(Self.view(seed: UInt64(seed)), frameWidth: Self.frameW, frameHeight: Self.frameH).isEmpty)
        }
        // The whole view 30 % darker, then 20 % brighter.
        #expect(d.analyse(Self.view(seed: 200, gain: 0.7), frameWidth: Self.frameW, frameHeight: Self.frameH).isEmpty)
        #expect(d.analyse(Self.view(seed: 201, gain: 1.2), frameWidth: Self.frameW, frameHeight: Self.frameH).isEmpty)
        // …and a crack under the dimmer light is still found.
        #expect(d.analyse(Self.crack(Self.view(seed: 202, gain: 0.7)), frameWidth: Self.frameW, frameHeight: Self.frameH).count == 1)
    }

    @Test func aRegionBelowTheMinimumAreaIsNotReported() {
        // A 3×3 working blob is 144 frame pixels: reported at 80, not at 200.
        var blob = Self.view(seed: 50)
        for y in 20..<23 { for x in 20..<23 { blob[x, y] = 0 } }
        var small = Self.learnt(.init(learnFrames: 10, minAreaPx: 80))
        #expect(small.analyse(blob, frameWidth: Self.frameW, frameHeight: Self.frameH).count == 1)
        var large = Self.learnt(.init(learnFrames: 10, minAreaPx: 200))
        #expect(large.analyse(blob, frameWidth: Self.frameW, frameHeight: Self.frameH).isEmpty)
    }

    @Test func aMaskedRegionIsIgnored() {
        // A polygon (frame pixels) around the crack: frame x 140…380, y 260…320.
        let mask = [ReferenceDetector.Point(x: 140, y: 260), .init(x: 380, y: 260), .init(x: 380, y: 320), .init(x: 140, y: 320)]
        var d = Self.learnt(.init(learnFrames: 10, masks: [mask]))
        #expect(d.analyse(Self.crack(Self.view(seed: 99)), frameWidth: Self.frameW, frameHeight: Self.frameH).isEmpty)
        // The same crack elsewhere is found.
        #expect(d.analyse(Self.crack(Self.view(seed: 98), x0: 40, y: 120), frameWidth: Self.frameW, frameHeight: Self.frameH).count == 1)
    }

    @Test func aTriangularMaskCoversItsInsideOnly() {
        // A triangle whose right edge is x = 250 and whose slanted edge passes left of the crack
        // (x = 117…127 at the crack's rows): the crack left of 250 is inside it, the rest is not.
        let mask = [ReferenceDetector.Point(x: 0, y: 0), .init(x: 250, y: 0), .init(x: 250, y: 600)]
        var d = Self.learnt(.init(learnFrames: 10, masks: [mask]))
        let found = d.analyse(Self.crack(Self.view(seed: 99)), frameWidth: Self.frameW, frameHeight: Self.frameH)
        #expect(found.count == 1)
        #expect(found.allSatisfy { $0.x >= 240 && $0.x + $0.width > 340 }, "\(found)")
    }

    @Test func relearningMakesTheNewViewTheReference() {
        var d = Self.learnt()
        let cracked = Self.crack(Self.view(seed: 99))
        #expect(d.analyse(cracked, frameWidth: Self.frameW, frameHeight: Self.frameH).count == 1)
        // The crack was repaired with a visible patch: the new normal. Relearn from it.
        d.relearn()
        #expect(d.phase == .learning(seen: 0, of: 10))
        for i in 0..<10 { _ = d.analyse(Self.crack(Self.view(seed: UInt64(300 + i))), frameWidth: Self.frameW, frameHeight: Self.frameH) }
        #expect(d.phase == .ready)
        #expect(d.analyse(Self.crack(Self.view(seed: 400)), frameWidth: Self.frameW, frameHeight: Self.frameH).isEmpty)
        // What was the reference before is now the difference.
        #expect(d.analyse(Self.view(seed: 401), frameWidth: Self.frameW, frameHeight: Self.frameH).count == 1)
    }

    @Test func aFrameOfAnotherSizeStartsLearningAgain() {
        var d = Self.learnt()
        let smaller = GreyImage(width: 100, height: 75, fill: 120)
        #expect(d.analyse(smaller, frameWidth: 400, frameHeight: 300).isEmpty)
        #expect(d.phase == .learning(seen: 1, of: 10))
    }

    @Test func aStaticStreamDoesNotTurnRoundingIntoDefects() {
        // Identical frames while learning (zero variance): the σ floor keeps ±2 grey levels quiet.
        var d = ReferenceDetector(.init(learnFrames: 5))
        let still = Self.view(seed: 7, noise: 0)
        for _ in 0..<5 { _ = d.analyse(still, frameWidth: Self.frameW, frameHeight: Self.frameH) }
        #expect(d.analyse(Self.view(seed: 8, noise: 2), frameWidth: Self.frameW, frameHeight: Self.frameH).isEmpty)
        #expect(d.analyse(Self.crack(still), frameWidth: Self.frameW, frameHeight: Self.frameH).count == 1)
    }
}
