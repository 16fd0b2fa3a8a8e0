import Foundation
import MillwrightCore

/// Timing hooks for `millwright bench` (`annotate_ms_1080p`).
public enum EvidenceBench {
    /// The 1920×1080 input the benchmark uses: a synthetic conveyor frame with a 60-px crack,
    /// JPEG quality 90. Deterministic, so it can be written out for the Pillow comparison.
    public static func sampleJPEG1080p() throws -> Data {
        let frame = SyntheticFrame.generate(width: 1920, height: 1080, seed: 1080, defects: [.crack(sampleBox)])
        return try JPEG.encode(frame, quality: 90)
    }

    public static let sampleBox = BoundingBox(x: 412, y: 520, width: 60, height: 14)

    /// Median milliseconds of decode + annotate (box, label, inset, banner) + encode
    /// (quality 85) of a 1080p JPEG, over `iterations` runs after one warm-up.
    public static func annotate1080p(iterations: Int = 20, input: Data? = nil) throws -> Double {
        let jpeg = try input ?? sampleJPEG1080p()
        let ann = BoxAnnotation(box: sampleBox, defectClass: "crack", confidence: 0.93, detectionId: "CAM-07-1732155240123-0")
        let banner = BannerInfo(cameraId: "CAM-07", assetId: "10004712", assetName: "Head pulley, conveyor 2",
                                timestamp: Date(timeIntervalSince1970: 1_795_227_240), timeZoneIdentifier: "Europe/Berlin")
        func once() throws {
            let r = try EvidenceRenderer.render(frameData: jpeg, annotations: [ann], banner: banner, severity: 78)
            _ = try JPEG.encode(r, quality: 85)
        }
        try once()
        var times: [Double] = []
        for _ in 0..<max(1, iterations) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try once()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        times.sort()
        return times[times.count / 2]
    }
}
