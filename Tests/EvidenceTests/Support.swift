import Evidence
import Foundation
import MillwrightCore
import Testing

/// Shared fixtures for the Evidence tests.
enum Fixture {
    static let crackBox = BoundingBox(x: 137, y: 172, width: 22, height: 6)   // ~3.4% of 640: gets an inset
    static let corrosionBox = BoundingBox(x: 300, y: 95, width: 90, height: 60)

    static let banner = BannerInfo(cameraId: "CAM-07", assetId: "10004712", assetName: "Head pulley, conveyor 2",
                                   timestamp: Date(timeIntervalSince1970: 1_795_227_240.123),
                                   timeZoneIdentifier: "Europe/Berlin", note: "zone head-pulley")

    static let crack = BoxAnnotation(box: crackBox, defectClass: "crack", confidence: 0.93,
                                     detectionId: "CAM-07-1795227240123-0")
    static let corrosion = BoxAnnotation(box: corrosionBox, defectClass: "corrosion", confidence: 0.81,
                                         detectionId: "CAM-07-1795227240123-1", severity: 40)

    static func frame640() -> Raster {
        SyntheticFrame.generate(width: 640, height: 360, seed: 640, defects: [.crack(crackBox), .corrosion(corrosionBox)])
    }

    static func annotated640() -> Raster {
        EvidenceRenderer.render(frame: frame640(), annotations: [crack, corrosion], banner: banner, severity: 78)
    }

    static func card640() -> Raster {
        EvidenceRenderer.card(reason: "NVR timeout after 5 s", banner: banner, defectClass: "crack", confidence: 0.93,
                              detectionId: "CAM-07-1795227240123-0", severity: 90, width: 640, height: 360)
    }
}

/// Golden-image comparison with per-pixel tolerance (never byte equality: encoders and
/// floating point may differ across platforms). Set `MILLWRIGHT_UPDATE_GOLDEN=1` to
/// rewrite the stored images under Tests/EvidenceTests/Golden from the current output.
enum Golden {
    static var sourceDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    }

    static var updating: Bool { ProcessInfo.processInfo.environment["MILLWRIGHT_UPDATE_GOLDEN"] == "1" }

    /// Source tree first (so a fresh regeneration is seen without rebuilding), then the
    /// copied test resource (when tests run away from the source tree).
    static func load(_ name: String) -> Data? {
        if let d = FileManager.default.contents(atPath: sourceDirectory.appendingPathComponent(name).path) { return d }
        if let dir = Bundle.module.url(forResource: "Golden", withExtension: nil) {
            return FileManager.default.contents(atPath: dir.appendingPathComponent(name).path)
        }
        return nil
    }

    struct Diff { var maxChannelDiff: Int; var meanAbsDiff: Double; var fractionOver: Double }

    static func diff(_ a: Raster, _ b: Raster, threshold: Int) -> Diff {
        var maxD = 0, sum = 0, over = 0
        for i in stride(from: 0, to: a.pixels.count, by: 3) {
            var px = 0
            for c in 0..<3 {
                let d = abs(Int(a.pixels[i + c]) - Int(b.pixels[i + c]))
                px = max(px, d); sum += d
            }
            maxD = max(maxD, px)
            if px > threshold { over += 1 }
        }
        return Diff(maxChannelDiff: maxD, meanAbsDiff: Double(sum) / Double(a.pixels.count),
                    fractionOver: Double(over) / Double(a.pixelCount))
    }

    /// Compares `actual` to the stored PNG `name` (or rewrites it in update mode).
    static func check(_ actual: Raster, _ name: String, threshold: Int = 12, maxFractionOver: Double = 0.002,
                      maxMean: Double = 1.0, sourceLocation: SourceLocation = #_sourceLocation) throws {
        if updating {
            try FileManager.default.createDirectory(at: sourceDirectory, withIntermediateDirectories: true)
            try PNG.encode(actual).write(to: sourceDirectory.appendingPathComponent(name))
            return
        }
        guard let data = load(name) else {
            Issue.record("golden \(name) missing; run with MILLWRIGHT_UPDATE_GOLDEN=1 to create it", sourceLocation: sourceLocation)
            return
        }
        let expected = try PNG.decode(data)
        try #require(expected.width == actual.width && expected.height == actual.height,
                     "golden \(name) is \(expected.width)x\(expected.height), got \(actual.width)x\(actual.height)",
                     sourceLocation: sourceLocation)
        let d = diff(actual, expected, threshold: threshold)
        if d.fractionOver > maxFractionOver || d.meanAbsDiff > maxMean {
            let failed = FileManager.default.temporaryDirectory.appendingPathComponent("actual-\(name)")
            try? PNG.encode(actual).write(to: failed)
            Issue.record("""
                \(name) differs from golden: \(String(format: "%.3f", d.fractionOver * 100))% pixels over \(threshold), \
                mean |diff| \(String(format: "%.3f", d.meanAbsDiff)), max \(d.maxChannelDiff). Actual written to \(failed.path); \
                if the change is intended, regenerate with MILLWRIGHT_UPDATE_GOLDEN=1
                """, sourceLocation: sourceLocation)
        }
    }
}

func colorDistance(_ a: RGB, _ b: RGB) -> Int {
    max(abs(Int(a.r) - Int(b.r)), abs(Int(a.g) - Int(b.g)), abs(Int(a.b) - Int(b.b)))
}
