import Foundation
import MillwrightCore

/// Timing hooks for `millwright bench` (`annotate_ms_1080p`, `annotate_floor_ms_1080p`).
public enum EvidenceBench {
    /// The 1920×1080 input the benchmark uses: a synthetic conveyor frame with a 60-px crack,
    /// JPEG quality 90. Deterministic, so it can be written out for the Pillow comparison.
    public static func sampleJPEG1080p() throws -> Data {
        let frame = SyntheticFrame.generate(width: 1920, height: 1080, seed: 1080, defects: [.crack(sampleBox)])
        return try JPEG.encode(frame, quality: 90)
    }

    public static let sampleBox = BoundingBox(x: 412, y: 520, width: 60, height: 14)

    /// Median milliseconds of our annotate path and of its floor, measured side by side.
    public struct AnnotateTimes: Sendable {
        /// Decode + annotate (box, label, inset, banner) + encode (quality 85).
        public var annotateMs: Double
        /// libjpeg-turbo decode + encode of the same frame, same quality, subsampling and
        /// flags, nothing drawn: what no annotator built on it can beat.
        public var floorMs: Double
        public var ratioToFloor: Double { floorMs > 0 ? annotateMs / floorMs : 0 }
    }

    /// Times the annotate path and the floor over `iterations` runs each after one warm-up,
    /// alternating them so machine noise hits both alike.
    public static func annotateAgainstFloor1080p(iterations: Int = 20, input: Data? = nil) throws -> AnnotateTimes {
        let jpeg = try input ?? sampleJPEG1080p()
        let ann = BoxAnnotation(box: sampleBox, defectClass: "crack", confidence: 0.93, detectionId: "CAM-07-1732155240123-0")
        let banner = BannerInfo(cameraId: "CAM-07", assetId: "10004712", assetName: "Head pulley, conveyor 2",
                                timestamp: Date(timeIntervalSince1970: 1_795_227_240), timeZoneIdentifier: "Europe/Berlin")
        func annotate() throws {
            let r = try EvidenceRenderer.render(frameData: jpeg, annotations: [ann], banner: banner, severity: 78)
            _ = try JPEG.encode(r, quality: 85)
        }
        func floor() throws { _ = try JPEG.encode(JPEG.decode(jpeg), quality: 85) }
        func time(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        }
        try annotate(); try floor()
        var ours: [Double] = [], floors: [Double] = []
        for _ in 0..<max(1, iterations) {
            ours.append(try time(annotate))
            floors.append(try time(floor))
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        return AnnotateTimes(annotateMs: median(ours), floorMs: median(floors))
    }
}
