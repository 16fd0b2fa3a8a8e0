import Evidence
import Foundation
import MillwrightCore
import Testing

/// Cross-checks our JPEG output with an independent decoder: Python's Pillow.
/// Requires `python3` with Pillow (`pip install pillow`); fails clearly if missing.
@Suite("independent decoder (Pillow)")
struct PillowTests {
    static func findPython() -> String? {
        if let explicit = ProcessInfo.processInfo.environment["MILLWRIGHT_PYTHON"] { return explicit }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func run(_ python: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test("Pillow decodes our JPEG with the right size and box colour on the outline")
    func pillowReadsRenderedJPEG() throws {
        guard let python = Self.findPython() else {
            Issue.record("python3 not found on PATH (set MILLWRIGHT_PYTHON); this test needs python3 with Pillow")
            return
        }
        let probe = try Self.run(python, ["-c", "import PIL; print(PIL.__version__)"])
        guard probe.status == 0 else {
            Issue.record("Pillow is not installed for \(python): run `\(python) -m pip install pillow` (\(probe.err.suffix(200)))")
            return
        }
        let w = 1920, h = 1080
        let box = BoundingBox(x: 700, y: 400, width: 300, height: 160)
        let frame = SyntheticFrame.generate(width: w, height: h, seed: 11, defects: [.corrosion(box)])
        let r = EvidenceRenderer.render(frame: frame, annotations: [BoxAnnotation(box: box, defectClass: "corrosion", confidence: 0.88, detectionId: "D-1")],
                                        banner: Fixture.banner, severity: 90)
        let jpeg = try JPEG.encode(r, quality: 90)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mw-pillow-\(UUID().uuidString).jpg")
        try jpeg.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let (o, t) = EvidenceRenderer.boxOutline(for: box, frameWidth: w, frameHeight: h)
        let mid = t / 2
        // Points in the middle of the stroke: left, right and bottom sides (the tag sits on top).
        let points = [(o.x + mid, Int(o.centerY)), (o.maxX - 1 - mid, Int(o.centerY)), (Int(o.centerX), o.maxY - 1 - mid),
                      (o.x + mid, o.y + o.height / 4), (o.maxX - 1 - mid, o.maxY - o.height / 4)]
        let script = """
            import json, sys
            from PIL import Image
            im = Image.open(sys.argv[1]); im.load()
            pts = json.loads(sys.argv[2])
            print(json.dumps({"format": im.format, "mode": im.mode, "size": list(im.size),
                              "exif": bool(im.info.get("exif")), "pixels": [list(im.convert("RGB").getpixel((x, y))) for x, y in pts]}))
            """
        let ptsJSON = "[" + points.map { "[\($0.0),\($0.1)]" }.joined(separator: ",") + "]"
        let res = try Self.run(python, ["-c", script, file.path, ptsJSON])
        try #require(res.status == 0, "Pillow failed: \(res.err)")
        struct Out: Decodable { var format: String; var mode: String; var size: [Int]; var exif: Bool; var pixels: [[Int]] }
        let out = try JSONDecoder().decode(Out.self, from: Data(res.out.utf8))
        #expect(out.format == "JPEG")
        #expect(out.size == [r.width, r.height])
        #expect(out.exif == false)
        let red = SeverityPalette.critical
        for (i, px) in out.pixels.enumerated() {
            let c = RGB(UInt8(px[0]), UInt8(px[1]), UInt8(px[2]))
            #expect(colorDistance(c, red) <= 48, "outline point \(points[i]) decoded by Pillow as \(c), expected ≈ \(red)")
        }
    }
}
