import Evidence
import Testing

@Suite("bitmap font")
struct FontTests {
    @Test("every printable ASCII glyph is present, well-formed and distinct")
    func allGlyphs() {
        #expect(BitmapFont.glyphs.count == 95)
        var seen: [[UInt8]: Character] = [:]
        for code in 32...126 {
            let ch = Character(Unicode.Scalar(UInt8(code)))
            let g = BitmapFont.glyph(for: Unicode.Scalar(UInt8(code)))
            #expect(g.count == BitmapFont.glyphHeight, "glyph \(ch) has \(g.count) rows")
            #expect(g.allSatisfy { $0 < 32 }, "glyph \(ch) wider than 5 columns")
            if code == 32 {
                #expect(g.allSatisfy { $0 == 0 }, "space must be blank")
            } else {
                #expect(g.contains { $0 != 0 }, "glyph \(ch) is blank")
                if let other = seen[g] { Issue.record("glyphs \(other) and \(ch) are identical") }
                seen[g] = ch
            }
        }
    }

    @Test("descenders only on letters that have them")
    func descenders() {
        for code in 32...126 {
            let s = Unicode.Scalar(UInt8(code))
            let hasDescender = BitmapFont.glyph(for: s)[7...].contains { $0 != 0 }
            let expected = "gjpqy,;_|".unicodeScalars.contains(s)
            #expect(hasDescender == expected, "\(Character(s)) descender mismatch")
        }
    }

    @Test("integer scaling multiplies size and ink", arguments: [1, 2, 3, 5])
    func scaling(scale: Int) {
        let text = "Millwright 0123 AZaz!?"
        let w1 = BitmapFont.width(of: text, scale: 1)
        #expect(BitmapFont.width(of: text, scale: scale) == w1 * scale)
        #expect(BitmapFont.height(scale: scale) == 9 * scale)
        func ink(_ s: Int) -> (Int, PixelRect) {
            var r = Raster(width: w1 * s + 10, height: 9 * s + 10, fill: .black)
            let drawn = BitmapFont.draw(text, on: &r, x: 5, y: 5, scale: s, color: .white)
            #expect(drawn == w1 * s)
            var n = 0, minX = Int.max, maxX = 0, minY = Int.max, maxY = 0
            for y in 0..<r.height { for x in 0..<r.width where r[x, y] == .white {
                n += 1; minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            } }
            return (n, PixelRect(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1))
        }
        let (n1, b1) = ink(1), (ns, bs) = ink(scale)
        #expect(ns == n1 * scale * scale)
        #expect(bs.width == b1.width * scale && bs.height == b1.height * scale)
    }

    @Test("non-ASCII text is folded, never dropped silently")
    func folding() {
        #expect(BitmapFont.fold("Förderband Süd – Straße") == "Forderband Sud - Strasse")
        #expect(BitmapFont.fold("Kamera\t7\n") == "Kamera 7 ")
        #expect(BitmapFont.fold("漢") == "?")
    }

    @Test("truncation fits the width")
    func truncation() {
        let long = String(repeating: "CAM-07-1795227240123-0 ", count: 10)
        let t = BitmapFont.truncated(long, toWidth: 300, scale: 2)
        #expect(BitmapFont.width(of: t, scale: 2) <= 300)
        #expect(t.hasSuffix(".."))
        #expect(BitmapFont.truncated("short", toWidth: 300, scale: 2) == "short")
    }

    @Test("clipped drawing at the raster edge is safe")
    func clipping() {
        var r = Raster(width: 20, height: 10)
        BitmapFont.draw("WWWWWWWW", on: &r, x: -7, y: -3, scale: 3, color: .white)
        BitmapFont.drawOutlined("x", on: &r, x: 18, y: 8, scale: 2, color: .white)
        #expect(r.width == 20)
    }
}
