import Detector
import Evidence
import Foundation
import MillwrightCore

/// Frames of one fixed view of a conveyor (the demo's synthetic scene), for `bench --detector
/// reference` and `demo --export-frames`: the same scene every frame, with the sensor grain and
/// the light varying from frame to frame, and a carton passing along the top of the view (the
/// moving part a mask excludes).
enum ConveyorView {
    static let sceneSeed: UInt64 = 1612

    /// The carton's band: y from 6 % to 18 % of the height, the whole width.
    static func cartonBand(width: Int, height: Int) -> (top: Int, bottom: Int) { (height * 6 / 100, height * 18 / 100) }

    /// The mask that covers the carton's band, as `detector.masks` would give it.
    static func mask(width: Int, height: Int) -> [ReferenceDetector.Point] {
        let b = cartonBand(width: width, height: height)
        return [.init(x: 0, y: Double(b.top)), .init(x: Double(width), y: Double(b.top)),
                .init(x: Double(width), y: Double(b.bottom)), .init(x: 0, y: Double(b.bottom))]
    }

    /// Frame `index`: light between 0.9 and 1.1 of the scene's, its own grain, the carton at a
    /// place of its own, and `defects` painted.
    static func frame(width: Int, height: Int, index: Int, defects: [SyntheticDefect] = []) -> Raster {
        let light = 0.9 + 0.2 * Float((index * 37) % 11) / 10
        var img = SyntheticFrame.generate(width: width, height: height, seed: sceneSeed, defects: defects,
                                          variation: .init(grainSeed: 7919 &* UInt64(index + 1), light: light))
        let band = cartonBand(width: width, height: height)
        let cartonW = width / 16
        let x = (index * 97 % 16) * width / 16
        img.fill(PixelRect(x: x, y: band.top + (band.bottom - band.top) / 6, width: cartonW, height: (band.bottom - band.top) * 2 / 3), RGB(176, 140, 96))
        return img
    }
}

extension ConveyorView {
    /// Writes `count` frames of the view as `good-N.jpg`, and the same frames with a dark crack
    /// across the belt as `crack-N.jpg` (JPEG quality 90), for an RTSP test server to stream.
    static func export(to dir: String, width: Int, height: Int, count: Int = 4) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let crack = SyntheticDefect.crack(BoundingBox(x: Double(width) * 0.3, y: Double(height) * 0.55, width: Double(width) * 0.2, height: Double(height) * 0.045))
        for i in 0..<count {
            try JPEG.encode(frame(width: width, height: height, index: i), quality: 90).write(to: URL(fileURLWithPath: "\(dir)/good-\(i).jpg"))
            try JPEG.encode(frame(width: width, height: height, index: i, defects: [crack]), quality: 90).write(to: URL(fileURLWithPath: "\(dir)/crack-\(i).jpg"))
        }
    }
}

/// `millwright bench --detector reference`: 200 generated 1080p frames of the conveyor view with
/// known defects; the detector learns from the first 20 (clean) and is scored on the other 180,
/// every other one of which has a crack or a patch of corrosion at a seeded place.
struct DetectorBench {
    var frames = 200
    var learnFrames = 20
    var width = 1920, height = 1080
    var seed: UInt64 = 16

    struct Result {
        var truePositives = 0, falsePositives = 0, defectFrames = 0, foundDefectFrames = 0, cleanFramesWithFindings = 0
        var analysedSeconds = 0.0, analysed = 0
        /// CPU time of this thread in decode and in the detector: what the figures would be on an
        /// idle core (the wall clock also counts whatever else the machine is doing).
        var decodeCPUSeconds = 0.0, detectCPUSeconds = 0.0
        var cpuFramesPerSecond: Double { decodeCPUSeconds + detectCPUSeconds > 0 ? Double(analysed) / (decodeCPUSeconds + detectCPUSeconds) : 0 }
        var precision: Double { truePositives + falsePositives == 0 ? 1 : Double(truePositives) / Double(truePositives + falsePositives) }
        var recall: Double { defectFrames == 0 ? 1 : Double(foundDefectFrames) / Double(defectFrames) }
        var framesPerSecond: Double { analysedSeconds > 0 ? Double(analysed) / analysedSeconds : 0 }
    }

    /// The defect of test frame `i` (nil: a clean frame), placed below the carton's band.
    func defect(_ i: Int, rng: inout SplitMix64) -> SyntheticDefect? {
        guard i >= learnFrames, (i - learnFrames) % 2 == 1 else { return nil }
        let top = Double(ConveyorView.cartonBand(width: width, height: height).bottom + 20)
        if rng.unit() < 0.6 {
            let long = 60 + rng.unit() * 100, across = 12 + rng.unit() * 8
            let horizontal = rng.unit() < 0.5
            let (w, h) = horizontal ? (long, across) : (across, long)
            return .crack(BoundingBox(x: 40 + rng.unit() * (Double(width) - 80 - w), y: top + rng.unit() * (Double(height) - 40 - top - h), width: w, height: h))
        }
        let s = 30 + rng.unit() * 40
        return .corrosion(BoundingBox(x: 40 + rng.unit() * (Double(width) - 80 - s), y: top + rng.unit() * (Double(height) - 40 - top - s), width: s, height: s))
    }

    /// Generates each frame (not timed), encodes it as a camera would (JPEG quality 90), then
    /// times decode + detector together, the work the gateway does per captured frame.
    func run(progress: (Int) -> Void = { _ in }) throws -> Result {
        var detector = ReferenceDetector(.init(learnFrames: learnFrames, sigma: 4, minAreaPx: 80, masks: [ConveyorView.mask(width: width, height: height)]))
        var rng = SplitMix64(seed: seed)
        var r = Result()
        for i in 0..<frames {
            let truth = defect(i, rng: &rng)
            let jpeg = try JPEG.encode(ConveyorView.frame(width: width, height: height, index: i, defects: truth.map { [$0] } ?? []), quality: 90)
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = Self.threadCPUSeconds()
            let luma = try JPEG.decodeLuma(jpeg, coveringWidth: ReferenceDetector.workingWidth)
            let c1 = Self.threadCPUSeconds()
            guard let grey = GreyImage(width: luma.width, height: luma.height, pixels: luma.pixels) else { continue }
            let findings = detector.analyse(grey, frameWidth: luma.frameWidth, frameHeight: luma.frameHeight)
            let c2 = Self.threadCPUSeconds()
            r.analysedSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            r.decodeCPUSeconds += c1 - c0
            r.detectCPUSeconds += c2 - c1
            r.analysed += 1
            progress(i)
            guard i >= learnFrames else { continue }
            if let truth {
                r.defectFrames += 1
                let b = truth.box
                // A hit: the box overlaps the defect's box grown by 8 px (the crack's lip), and is at
                // most four times that grown box's area: a box over half the frame is no hit.
                let grown = (b.width + 16) * (b.height + 16)
                let hits = findings.filter { f in
                    Double(f.x) < b.x + b.width + 8 && Double(f.x + f.width) > b.x - 8 && Double(f.y) < b.y + b.height + 8 && Double(f.y + f.height) > b.y - 8
                        && Double(f.width * f.height) <= 4 * grown
                }
                r.truePositives += hits.count
                r.falsePositives += findings.count - hits.count
                if !hits.isEmpty { r.foundDefectFrames += 1 }
            } else {
                r.falsePositives += findings.count
                if !findings.isEmpty { r.cleanFramesWithFindings += 1 }
            }
        }
        return r
    }

    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
