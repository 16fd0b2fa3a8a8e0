import Evidence
import Foundation
import Testing

@Suite("JPEG and PNG codecs")
struct CodecTests {
    static let sizes: [(Int, Int)] = [(1, 1), (2, 3), (17, 9), (64, 64), (640, 360), (1001, 7)]

    @Test("JPEG round trip keeps size and is close", arguments: sizes.map { "\($0.0)x\($0.1)" })
    func jpegRoundTrip(size: String) throws {
        let p = size.split(separator: "x").map { Int($0)! }
        let src = SyntheticFrame.generate(width: max(16, p[0]), height: max(16, p[1]), seed: 3).cropped(PixelRect(x: 0, y: 0, width: p[0], height: p[1]))!
        let data = try JPEG.encode(src, quality: 95)
        #expect(ImageFormat.sniff(data) == .jpeg)
        let back = try JPEG.decode(data)
        #expect(back.width == p[0] && back.height == p[1])
        let d = Golden.diff(src, back, threshold: 255)
        #expect(d.meanAbsDiff < 6, "mean diff \(d.meanAbsDiff)")
        let dims = try JPEG.dimensions(of: data)
        #expect(dims.width == p[0] && dims.height == p[1])
    }

    @Test("PNG round trip is lossless", arguments: sizes.map { "\($0.0)x\($0.1)" })
    func pngRoundTrip(size: String) throws {
        let p = size.split(separator: "x").map { Int($0)! }
        let src = SyntheticFrame.generate(width: max(16, p[0]), height: max(16, p[1]), seed: 4).cropped(PixelRect(x: 0, y: 0, width: p[0], height: p[1]))!
        let data = try PNG.encode(src)
        #expect(ImageFormat.sniff(data) == .png)
        #expect(try PNG.decode(data) == src)
        #expect(try ImageDecoder.decode(data) == src)
    }

    @Test("ImageDecoder sniffs JPEG vs PNG by magic bytes")
    func sniffing() throws {
        let src = SyntheticFrame.generate(width: 64, height: 48, seed: 5)
        let j = try JPEG.encode(src, quality: 90), p = try PNG.encode(src)
        #expect(try ImageDecoder.decode(j).width == 64)
        #expect(try ImageDecoder.decode(p) == src)
        #expect(ImageFormat.sniff(Data("GIF89a".utf8)) == nil)
    }

    @Test("encoded JPEG carries no EXIF or other APPn metadata")
    func noMetadata() throws {
        let data = try JPEG.encode(Fixture.annotated640(), quality: 85)
        // Walk the marker segments up to the first scan.
        let b = [UInt8](data)
        #expect(b[0] == 0xFF && b[1] == 0xD8)
        var i = 2
        var markers: [UInt8] = []
        while i + 4 <= b.count, b[i] == 0xFF {
            let m = b[i + 1]
            markers.append(m)
            if m == 0xDA { break }
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            i += 2 + len
        }
        #expect(markers.contains(0xDA))
        #expect(!markers.contains { (0xE1...0xEF).contains($0) }, "APP1..APP15 present: \(markers)")
        #expect(!markers.contains(0xFE), "COM present")
        #expect(data.range(of: Data("Exif".utf8)) == nil)
    }

    @Test("quality changes size")
    func qualityMatters() throws {
        let r = Fixture.annotated640()
        #expect(try JPEG.encode(r, quality: 40).count < JPEG.encode(r, quality: 95).count)
    }
}
